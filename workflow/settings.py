"""Settings, loaded and validated once at start-up.

Layers, later wins: ``config/defaults.toml`` → an optional TOML file (the ``config_file`` argument, else
``MUHTAR_CONFIG``) → ``MUHTAR_<SECTION>_<KEY>`` environment variables (``MUHTAR_MODE`` for the top level).
Every value is converted and checked here; a bad one raises :class:`SettingsError`, whose text is one English
line naming the setting and where it came from. Secrets never appear in ``repr`` or in error lines.

Adding a setting is one line in its section's dataclass::

    window: int = setting(10, int_between(1, 1000))

(and, for the operator's benefit, an annotated line in ``config/defaults.toml``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from workflow.paths import CONFIG_DIR, ROOT, VAR_DIR
from workflow.settings_checks import (
    Check,
    Invalid,
    convert,
    email_or_empty,
    int_between,
    ints_between,
    matches,
    number_between,
    one_of,
    shown,
    text_length,
    url_with_scheme,
)

ENV_PREFIX = "MUHTAR_"
CONFIG_ENV = "MUHTAR_CONFIG"
# MUHTAR_* variables that are not settings (the file pointer; the test suite's own knobs such as
# MUHTAR_TEST_PG_HOST). Every other unknown MUHTAR_* variable is an error, so typos cannot go unnoticed.
NON_SETTING_ENV: frozenset[str] = frozenset({CONFIG_ENV})
NON_SETTING_PREFIXES: tuple[str, ...] = ("MUHTAR_TEST_",)
DEFAULTS_FILE = CONFIG_DIR / "defaults.toml"
SECRET_KEY_MIN = 32
# The placeholder in config/production.example.toml: long enough, so refuse it explicitly.
SECRET_KEY_PLACEHOLDER = "REPLACE-WITH-AT-LEAST-32-RANDOM-CHARACTERS"


class SettingsError(Exception):
    """A setting is unknown, missing or invalid. ``str()`` is one English line naming it."""


def setting(default: Any, check: Check | None = None, *, secret: bool = False) -> Any:
    """Declare a setting: its default, its check and whether it is secret (hidden in repr/errors)."""
    return field(default=default, metadata={"check": check, "secret": secret})


class _Section:
    """Base of every section: a repr that hides secrets and passwords inside URLs."""

    def __repr__(self) -> str:
        parts = [
            f"{f.name}={shown(getattr(self, f.name), f.metadata.get('secret', False))}"
            for f in fields(self)  # type: ignore[arg-type]
        ]
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, repr=False)
class DatabaseSettings(_Section):
    url: str = setting(
        "sqlite+aiosqlite:///var/muhtar.db", url_with_scheme("sqlite+aiosqlite", "postgresql+asyncpg")
    )
    echo: bool = setting(False)
    pool_size: int = setting(10, int_between(1, 1000))

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file (callers create its folder), or None for PostgreSQL/in-memory."""
        path = _sqlite_path(self.url)
        return Path(path) if path and path != ":memory:" else None


@dataclass(frozen=True, repr=False)
class BusSettings(_Section):
    kind: str = setting("inprocess", one_of("inprocess", "rabbitmq"))
    amqp_url: str = setting("amqp://guest:guest@127.0.0.1:5672/", url_with_scheme("amqp", "amqps"))
    exchange: str = setting("muhtar", matches(r"[A-Za-z0-9_.:-]{1,127}", "1 to 127 letters, digits or _.:-"))
    retry_delays_s: tuple[int, ...] = setting((1, 10, 60), ints_between(0, 86400))
    max_attempts: int = setting(4, int_between(1, 100))
    prefetch: int = setting(100, int_between(1, 10000))
    publish_timeout_s: float = setting(10.0, number_between(0.1, 600))
    reconnect_s: float = setting(2.0, number_between(0.1, 600))
    delivery_limit: int = setting(20, int_between(2, 1000))
    relay_batch: int = setting(500, int_between(1, 10000))
    relay_poll_s: float = setting(1.0, number_between(0.05, 60))
    relay_workers: int = setting(2, int_between(1, 16))


@dataclass(frozen=True, repr=False)
class WebSettings(_Section):
    host: str = setting("127.0.0.1", text_length(1, 255))
    port: int = setting(8080, int_between(1, 65535))
    # Empty: embedded mode generates one into var/secret_key; production mode refuses to start.
    secret_key: str = setting("", secret=True)
    # Empty: derived as http://<host>:<port>.
    base_url: str = setting("", url_with_scheme("http", "https", allow_empty=True))
    # Processes of `muhtar web` sharing the port (SO_REUSEPORT); 0: one per CPU core. `muhtar run` uses one.
    workers: int = setting(1, int_between(0, 64))


@dataclass(frozen=True, repr=False)
class WorkflowSettings(_Section):
    default_due_days: int = setting(15, int_between(1, 365))
    due_soon_days: int = setting(3, int_between(0, 365))


@dataclass(frozen=True, repr=False)
class SmsSettings(_Section):
    source_addr: str = setting("MUHTAR", matches(r"[A-Za-z0-9]{3,11}", "3 to 11 Latin letters or digits"))
    encoding: str = setting("gsm7", one_of("gsm7", "turkish_shift", "ucs2_only"))
    ussd_code: str = setting("*4444#", matches(r"\*[0-9*]{1,20}#", "a USSD code such as *4444#"))


def _ip_networks() -> Check:
    def test(value: tuple[str, ...]) -> bool:
        try:
            for item in value:
                ipaddress.ip_network(item, strict=False)
        except ValueError:
            return False
        return True

    return Check("a comma-separated list of IP addresses or networks such as 10.1.2.0/24", test)


@dataclass(frozen=True, repr=False)
class InboundSettings(_Section):
    # SMS/USSD commands one phone may send per hour; the first one over gets one polite reply.
    commands_per_hour: int = setting(20, int_between(1, 10000))


@dataclass(frozen=True, repr=False)
class UssdSettings(_Section):
    # The operator's USSD gateway must send this in the X-USSD-Secret header (empty: not required).
    secret: str = setting("", secret=True)
    # Source addresses allowed to call POST /ussd (empty: any address, then a secret is required).
    allow_from: tuple[str, ...] = setting(("127.0.0.1", "::1"), _ip_networks())
    session_ttl_s: int = setting(180, int_between(10, 3600))


@dataclass(frozen=True, repr=False)
class SmppSettings(_Section):
    host: str = setting("127.0.0.1", text_length(1, 255))
    port: int = setting(2775, int_between(1, 65535))
    # SMPP 3.4 field limits (C-octet strings including the terminating NUL: 16, 9 and 13 octets).
    system_id: str = setting("muhtar", text_length(1, 15))
    password: str = setting("", text_length(0, 8), secret=True)
    system_type: str = setting("", text_length(0, 12))
    bind_mode: str = setting("transceiver", one_of("transceiver", "pair"))
    window: int = setting(10, int_between(1, 1000))
    response_timeout_s: int = setting(30, int_between(1, 600))
    tps: float = setting(0.0, number_between(0, 100000))
    enquire_link_s: int = setting(30, int_between(1, 3600))
    simulator: bool = setting(True)
    address_range: str = setting("", text_length(0, 40))
    concat: str = setting("udh8", one_of("udh8", "udh16", "sar"))
    registered_delivery: bool = setting(True)
    receipt_ids: str = setting("same", one_of("same", "decimal", "hex"))
    throttle_pause_s: float = setting(1.0, number_between(0.01, 600))
    reconnect_min_s: float = setting(1.0, number_between(0.01, 600))
    reconnect_max_s: float = setting(60.0, number_between(0.1, 3600))
    max_temporary_attempts: int = setting(5, int_between(1, 100))
    drain_timeout_s: float = setting(10.0, number_between(0, 600))


@dataclass(frozen=True, repr=False)
class MailSettings(_Section):
    enabled: bool = setting(False)
    domain: str = setting("muhtar.gov.tr", matches(r"[A-Za-z0-9.-]{1,253}", "a domain name"))
    smtp_host: str = setting("", text_length(0, 255))
    smtp_port: int = setting(587, int_between(1, 65535))
    smtp_tls: str = setting("starttls", one_of("none", "starttls", "tls"))
    username: str = setting("", text_length(0, 255))
    password: str = setting("", secret=True)
    sender: str = setting("", email_or_empty())
    sender_name: str = setting("Muhtar Bilgi Sistemi", text_length(1, 100))
    # PEM file of the CA(s) that signed the SMTP server's certificate; empty: the system's trusted CAs.
    smtp_ca_file: str = setting("", text_length(0, 500))
    timeout_s: float = setting(30.0, number_between(1, 600))
    # Without SMTP (enabled = false) mail is written here as .eml files (embedded mode only).
    outbox_dir: str = setting("var/mail", text_length(1, 500))
    # Hour of the day (Europe/Istanbul) the staff digest is sent, 0-23.
    digest_hour: int = setting(7, int_between(0, 23))
    # A deferred mail is queued again after this many seconds; given up after give_up_after_h hours.
    retry_after_s: int = setting(900, int_between(10, 86400))
    give_up_after_h: int = setting(72, int_between(1, 720))


@dataclass(frozen=True, repr=False)
class SecuritySettings(_Section):
    otp_ttl_s: int = setting(180, int_between(30, 3600))
    otp_max_attempts: int = setting(3, int_between(1, 10))
    otp_resend_s: int = setting(60, int_between(0, 3600))
    otp_per_hour: int = setting(5, int_between(1, 100))
    session_idle_min: int = setting(15, int_between(1, 1440))
    session_absolute_h: int = setting(8, int_between(1, 72))
    upload_max_files: int = setting(5, int_between(1, 20))
    upload_max_mb: int = setting(10, int_between(1, 100))


@dataclass(frozen=True, repr=False)
class LoggingSettings(_Section):
    level: str = setting("INFO", one_of("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", fold=str.upper))


@dataclass(frozen=True)
class Settings:
    mode: str = setting("embedded", one_of("embedded", "production"))
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    bus: BusSettings = field(default_factory=BusSettings)
    web: WebSettings = field(default_factory=WebSettings)
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    smpp: SmppSettings = field(default_factory=SmppSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    ussd: UssdSettings = field(default_factory=UssdSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    @property
    def embedded(self) -> bool:
        return self.mode == "embedded"


# --- schema -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    section: str  # "" for top-level settings such as mode
    name: str
    type: Any
    check: Check | None
    secret: bool

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.dotted.replace(".", "_").upper()


def _key(section: str, f: Any, tp: Any) -> _Key:
    return _Key(section, f.name, tp, f.metadata.get("check"), f.metadata.get("secret", False))


def _schema() -> dict[tuple[str, str], _Key]:
    """Every known setting, from the dataclasses above: (section, name) -> _Key."""
    keys: list[_Key] = []
    hints = typing.get_type_hints(Settings)
    for f in fields(Settings):
        tp = hints[f.name]
        if is_dataclass(tp):
            section_hints = typing.get_type_hints(tp)
            keys.extend(_key(f.name, sf, section_hints[sf.name]) for sf in fields(tp))
        else:
            keys.append(_key("", f, tp))
    return {(k.section, k.name): k for k in keys}


# --- loading ----------------------------------------------------------------------------------------

_Values = dict[tuple[str, str], tuple[Any, str]]  # key -> (value, source label)


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    *,
    var_dir: Path | None = None,
) -> Settings:
    """Read defaults, the optional file and the environment; return validated settings or raise."""
    env = os.environ if env is None else env
    schema = _schema()
    values: _Values = {}
    _apply_file(schema, values, DEFAULTS_FILE)
    extra = config_file if config_file is not None else env.get(CONFIG_ENV) or None
    if extra is not None:
        _apply_file(schema, values, Path(extra))
    _apply_env(schema, values, env)
    settings = _build(schema, values)
    return _finish(settings, values, VAR_DIR if var_dir is None else var_dir)


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _apply_file(schema: dict[tuple[str, str], _Key], values: _Values, path: Path) -> None:
    label = _label(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"configuration file {label}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"configuration file {label}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"configuration file {label}: not valid TOML ({exc})") from None
    for name, raw in data.items():
        if isinstance(raw, dict) and ("", name) not in schema:
            for key, item in raw.items():
                _store(schema, values, (name, key), item, label, from_env=False)
        else:
            _store(schema, values, ("", name), raw, label, from_env=False)


def _apply_env(schema: dict[tuple[str, str], _Key], values: _Values, env: Mapping[str, str]) -> None:
    by_env = {k.env: k for k in schema.values()}
    for name in sorted(env):
        if not _is_setting_env(name):
            continue
        key = by_env.get(name)
        if key is None:
            raise SettingsError(f"environment variable {name}: unknown setting (check the spelling)")
        _store(schema, values, (key.section, key.name), env[name], name, from_env=True)


def _is_setting_env(name: str) -> bool:
    if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV:
        return False
    return not name.startswith(NON_SETTING_PREFIXES)


def _store(
    schema: dict[tuple[str, str], _Key],
    values: _Values,
    where: tuple[str, str],
    raw: Any,
    source: str,
    *,
    from_env: bool,
) -> None:
    key = schema.get(where)
    if key is None:
        dotted = f"{where[0]}.{where[1]}" if where[0] else where[1]
        known = {k.section for k in schema.values()}
        what = "unknown setting" if where[0] in known or not where[0] else "unknown section"
        raise SettingsError(f"setting {dotted} ({source}): {what}")
    try:
        value = convert(key.type, raw, from_env=from_env, check=key.check)
    except Invalid as exc:
        got = shown(raw, key.secret)
        raise SettingsError(f"setting {key.dotted} ({source}): expected {exc.expected}, got {got}") from None
    values[where] = (value, source)


def _build(schema: dict[tuple[str, str], _Key], values: _Values) -> Settings:
    sections: dict[str, dict[str, Any]] = {}
    for (section, name), (value, _source) in values.items():
        sections.setdefault(section, {})[name] = value
    top = sections.pop("", {})
    hints = typing.get_type_hints(Settings)
    built = {name: hints[name](**items) for name, items in sections.items()}
    return Settings(**top, **built)


def _source(values: _Values, key: tuple[str, str]) -> str:
    """Where a setting came from; for a default, the variable an operator would set instead."""
    source = values.get(key, (None, None))[1]
    if source is None or source == _label(DEFAULTS_FILE):
        return ENV_PREFIX + "_".join(key).upper().lstrip("_")
    return source


def _finish(settings: Settings, values: _Values, var_dir: Path) -> Settings:
    """Derived values and the checks that involve more than one setting."""
    web, db, smpp, mail = settings.web, settings.database, settings.smpp, settings.mail
    db = replace(db, url=_absolute_sqlite_url(db.url))
    if not web.base_url:
        web = replace(web, base_url=f"http://{web.host}:{web.port}")
    if settings.mode == "production":
        if len(web.secret_key) < SECRET_KEY_MIN or web.secret_key == SECRET_KEY_PLACEHOLDER:
            raise SettingsError(
                f"setting web.secret_key ({_source(values, ('web', 'secret_key'))}): required in production "
                f"mode, at least {SECRET_KEY_MIN} random characters (not the example's placeholder)"
            )
        if smpp.simulator:
            raise SettingsError(
                f"setting smpp.simulator ({_source(values, ('smpp', 'simulator'))}): the built-in SMSC "
                "simulator is for embedded mode only; set it to false in production mode"
            )
    elif not web.secret_key:
        web = replace(web, secret_key=_embedded_secret_key(var_dir))
    if mail.enabled and not (mail.smtp_host and mail.sender):
        raise SettingsError(
            f"setting mail.enabled ({_source(values, ('mail', 'enabled'))}): mail.smtp_host and mail.sender "
            "are required when mail is enabled"
        )
    if settings.workflow.due_soon_days >= settings.workflow.default_due_days:
        raise SettingsError(
            f"setting workflow.due_soon_days ({_source(values, ('workflow', 'due_soon_days'))}): expected "
            f"fewer days than workflow.default_due_days ({settings.workflow.default_due_days})"
        )
    return replace(settings, web=web, database=db)


_SQLITE_PREFIX = "sqlite+aiosqlite:///"


def _sqlite_path(url: str) -> str | None:
    if not url.startswith(_SQLITE_PREFIX):
        return None
    return url[len(_SQLITE_PREFIX) :].split("?", 1)[0]


def _absolute_sqlite_url(url: str) -> str:
    """Relative SQLite paths are relative to the checkout, not to the current directory."""
    path = _sqlite_path(url)
    if not path or path == ":memory:" or path.startswith("/"):
        return url
    return _SQLITE_PREFIX + str(ROOT / path) + url[len(_SQLITE_PREFIX) + len(path) :]


def _embedded_secret_key(var_dir: Path) -> str:
    """Read var/secret_key, creating it (owner-only) on first start so sessions survive restarts."""
    path = var_dir / "secret_key"
    var_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write a private temporary file, then link it into place: a process starting at the same
        # moment either sees no file or a complete one, and exactly one key wins.
        tmp = var_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text(encoding="ascii").strip()
    if len(key) < SECRET_KEY_MIN:
        raise SettingsError(
            f"setting web.secret_key ({path}): the stored key is shorter than {SECRET_KEY_MIN} "
            "characters; delete the file to generate a new one"
        )
    return key
