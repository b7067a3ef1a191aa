"""Settings: layers, conversion, validation and the one-line errors (table-driven)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from workflow import settings as settings_module
from workflow.paths import CONFIG_DIR, ROOT
from workflow.settings import Settings, SettingsError, load_settings

GOOD_KEY = "k" * 40
PRODUCTION_ENV = {
    "MUHTAR_MODE": "production",
    "MUHTAR_WEB_SECRET_KEY": GOOD_KEY,
    "MUHTAR_SMPP_SIMULATOR": "false",
}


def load(env: dict[str, str], tmp_path: Path, config_file: Path | None = None) -> Settings:
    return load_settings(env, config_file, var_dir=tmp_path / "var")


def test_defaults_are_the_embedded_mode(tmp_path: Path) -> None:
    s = load({}, tmp_path)
    assert s.mode == "embedded" and s.embedded
    assert s.database.url == f"sqlite+aiosqlite:///{ROOT}/var/muhtar.db"
    assert s.database.sqlite_file == ROOT / "var" / "muhtar.db"
    assert s.bus.kind == "inprocess"
    assert s.bus.retry_delays_s == (1, 10, 60)
    assert s.bus.max_attempts == 4
    assert s.web.base_url == "http://127.0.0.1:8080"
    assert s.sms.encoding == "gsm7"
    assert s.smpp.simulator is True
    assert s.smpp.tps == 0.0
    assert s.security.otp_ttl_s == 180
    assert s.logging.level == "INFO"


def test_defaults_file_agrees_with_the_dataclasses() -> None:
    """Every key documented in defaults.toml has the same value as its dataclass default."""
    data = tomllib.loads((CONFIG_DIR / "defaults.toml").read_text(encoding="utf-8"))
    built = Settings()
    for section, items in data.items():
        if not isinstance(items, dict):
            assert getattr(built, section) == items, section
            continue
        for key, value in items.items():
            default = getattr(getattr(built, section), key)
            expected = tuple(value) if isinstance(value, list) else value
            assert default == expected, f"{section}.{key}"


# (environment, dotted attribute, expected value)
GOOD_ENV: list[tuple[dict[str, str], str, Any]] = [
    ({"MUHTAR_SMPP_WINDOW": "50"}, "smpp.window", 50),
    ({"MUHTAR_SMPP_WINDOW": " 7 "}, "smpp.window", 7),
    ({"MUHTAR_SMPP_TPS": "12.5"}, "smpp.tps", 12.5),
    ({"MUHTAR_SMPP_TPS": "3"}, "smpp.tps", 3.0),
    ({"MUHTAR_SMPP_SIMULATOR": "false"}, "smpp.simulator", False),
    ({"MUHTAR_SMPP_SIMULATOR": "No"}, "smpp.simulator", False),
    ({"MUHTAR_DATABASE_ECHO": "1"}, "database.echo", True),
    ({"MUHTAR_DATABASE_ECHO": "on"}, "database.echo", True),
    ({"MUHTAR_BUS_KIND": "rabbitmq"}, "bus.kind", "rabbitmq"),
    ({"MUHTAR_BUS_RETRY_DELAYS_S": "5, 30,300"}, "bus.retry_delays_s", (5, 30, 300)),
    ({"MUHTAR_BUS_RETRY_DELAYS_S": ""}, "bus.retry_delays_s", ()),
    (
        {"MUHTAR_BUS_AMQP_URL": "amqps://u:p@mq.example:5671/v"},
        "bus.amqp_url",
        "amqps://u:p@mq.example:5671/v",
    ),
    (
        {"MUHTAR_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test"},
        "database.url",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    ),
    (
        {"MUHTAR_DATABASE_URL": "sqlite+aiosqlite:////tmp/x.db"},
        "database.url",
        "sqlite+aiosqlite:////tmp/x.db",
    ),
    (
        {"MUHTAR_DATABASE_URL": "sqlite+aiosqlite:///data/x.db?timeout=5"},
        "database.url",
        f"sqlite+aiosqlite:///{ROOT}/data/x.db?timeout=5",
    ),
    ({"MUHTAR_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}, "database.url", "sqlite+aiosqlite:///:memory:"),
    ({"MUHTAR_LOGGING_LEVEL": "debug"}, "logging.level", "DEBUG"),
    ({"MUHTAR_SMS_SOURCE_ADDR": "MIGM"}, "sms.source_addr", "MIGM"),
    ({"MUHTAR_SMS_ENCODING": "turkish_shift"}, "sms.encoding", "turkish_shift"),
    ({"MUHTAR_SMPP_BIND_MODE": "pair"}, "smpp.bind_mode", "pair"),
    ({"MUHTAR_WEB_PORT": "9000"}, "web.base_url", "http://127.0.0.1:9000"),
    (
        {"MUHTAR_WEB_BASE_URL": "https://muhtar.example.gov.tr"},
        "web.base_url",
        "https://muhtar.example.gov.tr",
    ),
    ({"MUHTAR_WEB_SECRET_KEY": "short-is-fine-in-embedded"}, "web.secret_key", "short-is-fine-in-embedded"),
    ({"MUHTAR_WORKFLOW_DEFAULT_DUE_DAYS": "30"}, "workflow.default_due_days", 30),
    (
        {
            "MUHTAR_MAIL_ENABLED": "true",
            "MUHTAR_MAIL_SMTP_HOST": "smtp.example",
            "MUHTAR_MAIL_SENDER": "a@b.gov.tr",
        },
        "mail.enabled",
        True,
    ),
    ({"MUHTAR_SECURITY_OTP_TTL_S": "300"}, "security.otp_ttl_s", 300),
    ({"MUHTAR_TEST_PG_HOST": "10.0.0.1"}, "mode", "embedded"),  # the test suite's own knobs are not settings
    ({"PATH": "/bin", "HOME": "/root"}, "mode", "embedded"),  # other variables are ignored
    (PRODUCTION_ENV, "mode", "production"),
]


def attr(s: Settings, dotted: str) -> Any:
    value: Any = s
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("env", "dotted", "expected"), GOOD_ENV)
def test_good_environment_values(env: dict[str, str], dotted: str, expected: Any, tmp_path: Path) -> None:
    assert attr(load(env, tmp_path), dotted) == expected


# (environment, the exact one-line error)
BAD_ENV: list[tuple[dict[str, str], str]] = [
    (
        {"MUHTAR_SMPP_WINDOW": "abc"},
        "setting smpp.window (MUHTAR_SMPP_WINDOW): expected an integer between 1 and 1000, got 'abc'",
    ),
    (
        {"MUHTAR_SMPP_WINDOW": "0"},
        "setting smpp.window (MUHTAR_SMPP_WINDOW): expected an integer between 1 and 1000, got '0'",
    ),
    (
        {"MUHTAR_SMPP_WINDOW": "1.5"},
        "setting smpp.window (MUHTAR_SMPP_WINDOW): expected an integer between 1 and 1000, got '1.5'",
    ),
    (
        {"MUHTAR_SMPP_WINDOW": ""},
        "setting smpp.window (MUHTAR_SMPP_WINDOW): expected an integer between 1 and 1000, got ''",
    ),
    (
        {"MUHTAR_SMPP_TPS": "-1"},
        "setting smpp.tps (MUHTAR_SMPP_TPS): expected a number between 0 and 100000, got '-1'",
    ),
    (
        {"MUHTAR_SMPP_TPS": "nan"},
        "setting smpp.tps (MUHTAR_SMPP_TPS): expected a number between 0 and 100000, got 'nan'",
    ),
    (
        {"MUHTAR_SMPP_SIMULATOR": "maybe"},
        "setting smpp.simulator (MUHTAR_SMPP_SIMULATOR): expected true or false, got 'maybe'",
    ),
    (
        {"MUHTAR_BUS_KIND": "kafka"},
        "setting bus.kind (MUHTAR_BUS_KIND): expected one of inprocess, rabbitmq, got 'kafka'",
    ),
    (
        {"MUHTAR_BUS_RETRY_DELAYS_S": "1,x"},
        "setting bus.retry_delays_s (MUHTAR_BUS_RETRY_DELAYS_S): expected a comma-separated list "
        "of integers between 0 "
        "and 86400, got '1,x'",
    ),
    (
        {"MUHTAR_BUS_RETRY_DELAYS_S": "1,-5"},
        "setting bus.retry_delays_s (MUHTAR_BUS_RETRY_DELAYS_S): expected a comma-separated list "
        "of integers between 0 "
        "and 86400, got '1,-5'",
    ),
    (
        {"MUHTAR_BUS_AMQP_URL": "http://mq:5672/"},
        "setting bus.amqp_url (MUHTAR_BUS_AMQP_URL): expected a URL starting with amqp:// or "
        "amqps://, got 'http://mq:5672/'",
    ),
    (
        {"MUHTAR_DATABASE_URL": "postgresql://u:hunter2@db/x"},
        "setting database.url (MUHTAR_DATABASE_URL): expected a URL starting with sqlite+aiosqlite:// or "
        "postgresql+asyncpg://, got 'postgresql://u:***@db/x'",
    ),
    (
        {"MUHTAR_DATABASE_URL": "postgresql+asyncpg:///nohost"},
        "setting database.url (MUHTAR_DATABASE_URL): expected a URL starting with sqlite+aiosqlite:// or "
        "postgresql+asyncpg://, got 'postgresql+asyncpg:///nohost'",
    ),
    (
        {"MUHTAR_DATABASE_POOL_SIZE": "0"},
        "setting database.pool_size (MUHTAR_DATABASE_POOL_SIZE): expected an integer between 1 and "
        "1000, got '0'",
    ),
    (
        {"MUHTAR_WEB_PORT": "70000"},
        "setting web.port (MUHTAR_WEB_PORT): expected an integer between 1 and 65535, got '70000'",
    ),
    (
        {"MUHTAR_WEB_BASE_URL": "ftp://x"},
        "setting web.base_url (MUHTAR_WEB_BASE_URL): expected a URL starting with http:// or "
        "https://, or empty, got 'ftp://x'",
    ),
    (
        {"MUHTAR_SMS_SOURCE_ADDR": "MUHTARLIK-BILGI"},
        "setting sms.source_addr (MUHTAR_SMS_SOURCE_ADDR): expected 3 to 11 Latin letters or "
        "digits, got 'MUHTARLIK-BILGI'",
    ),
    (
        {"MUHTAR_SMS_SOURCE_ADDR": "MÜHTAR"},
        "setting sms.source_addr (MUHTAR_SMS_SOURCE_ADDR): expected 3 to 11 Latin letters or "
        "digits, got 'MÜHTAR'",
    ),
    (
        {"MUHTAR_SMS_ENCODING": "utf8"},
        "setting sms.encoding (MUHTAR_SMS_ENCODING): expected one of gsm7, turkish_shift, "
        "ucs2_only, got 'utf8'",
    ),
    (
        {"MUHTAR_SMPP_PASSWORD": "far-too-long-secret"},
        "setting smpp.password (MUHTAR_SMPP_PASSWORD): expected text of at most 8 characters, got '***'",
    ),
    (
        {"MUHTAR_MAIL_SMTP_TLS": "ssl"},
        "setting mail.smtp_tls (MUHTAR_MAIL_SMTP_TLS): expected one of none, starttls, tls, got 'ssl'",
    ),
    (
        {"MUHTAR_MAIL_SENDER": "not-an-address"},
        "setting mail.sender (MUHTAR_MAIL_SENDER): expected an e-mail address such as "
        "bildirim@muhtar.gov.tr, or empty, "
        "got 'not-an-address'",
    ),
    (
        {"MUHTAR_MAIL_ENABLED": "true"},
        "setting mail.enabled (MUHTAR_MAIL_ENABLED): mail.smtp_host and mail.sender are required "
        "when mail is enabled",
    ),
    (
        {"MUHTAR_LOGGING_LEVEL": "LOUD"},
        "setting logging.level (MUHTAR_LOGGING_LEVEL): expected one of DEBUG, INFO, WARNING, "
        "ERROR, CRITICAL, got 'LOUD'",
    ),
    (
        {"MUHTAR_SECURITY_OTP_MAX_ATTEMPTS": "0"},
        "setting security.otp_max_attempts (MUHTAR_SECURITY_OTP_MAX_ATTEMPTS): expected an integer "
        "between 1 and 10, got '0'",
    ),
    (
        {"MUHTAR_WORKFLOW_DUE_SOON_DAYS": "15"},
        "setting workflow.due_soon_days (MUHTAR_WORKFLOW_DUE_SOON_DAYS): expected fewer days than "
        "workflow.default_due_days (15)",
    ),
    (
        {"MUHTAR_MODE": "staging"},
        "setting mode (MUHTAR_MODE): expected one of embedded, production, got 'staging'",
    ),
    (
        {"MUHTAR_SMPP_WINDOWS": "10"},
        "environment variable MUHTAR_SMPP_WINDOWS: unknown setting (check the spelling)",
    ),
    ({"MUHTAR_SMPP": "x"}, "environment variable MUHTAR_SMPP: unknown setting (check the spelling)"),
    (
        {"MUHTAR_MODE": "production", "MUHTAR_SMPP_SIMULATOR": "false"},
        "setting web.secret_key (MUHTAR_WEB_SECRET_KEY): required in production mode, at least 32 "
        "random characters "
        "(not the example's placeholder)",
    ),
    (
        {**PRODUCTION_ENV, "MUHTAR_WEB_SECRET_KEY": "x" * 31},
        "setting web.secret_key (MUHTAR_WEB_SECRET_KEY): required in production mode, at least 32 "
        "random characters "
        "(not the example's placeholder)",
    ),
    (
        {**PRODUCTION_ENV, "MUHTAR_WEB_SECRET_KEY": settings_module.SECRET_KEY_PLACEHOLDER},
        "setting web.secret_key (MUHTAR_WEB_SECRET_KEY): required in production mode, at least 32 "
        "random characters "
        "(not the example's placeholder)",
    ),
    (
        {"MUHTAR_MODE": "production", "MUHTAR_WEB_SECRET_KEY": GOOD_KEY},
        "setting smpp.simulator (MUHTAR_SMPP_SIMULATOR): the built-in SMSC simulator is for "
        "embedded mode only; "
        "set it to false in production mode",
    ),
]


@pytest.mark.parametrize(("env", "message"), BAD_ENV)
def test_bad_environment_values(env: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load(env, tmp_path)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


# (TOML file text, the exact error with {file} standing for the file's path)
BAD_FILES: list[tuple[str, str]] = [
    (
        "[smpp]\nwindow = 'ten'\n",
        "setting smpp.window ({file}): expected an integer between 1 and 1000, got 'ten'",
    ),
    (
        "[smpp]\nwindow = true\n",
        "setting smpp.window ({file}): expected an integer between 1 and 1000, got True",
    ),
    ("[smpp]\nwindo = 5\n", "setting smpp.windo ({file}): unknown setting"),
    ("[smtp]\nhost = 'x'\n", "setting smtp.host ({file}): unknown section"),
    ("colour = 'blue'\n", "setting colour ({file}): unknown setting"),
    ("[smpp]\nsimulator = 'yes'\n", "setting smpp.simulator ({file}): expected true or false, got 'yes'"),
    (
        "[bus]\nretry_delays_s = '1,2'\n",
        "setting bus.retry_delays_s ({file}): expected a comma-separated list of integers between "
        "0 and 86400, got '1,2'",
    ),
    (
        "[bus]\nretry_delays_s = [1, 'x']\n",
        "setting bus.retry_delays_s ({file}): expected a comma-separated list of integers between "
        "0 and 86400, "
        "got [1, 'x']",
    ),
    ("[mail]\npassword = 42\n", "setting mail.password ({file}): expected text, got '***'"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_file_values(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "muhtar.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load({}, tmp_path, path)
    assert str(caught.value) == message.format(file=path)


def test_file_errors_are_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[smpp\nwindow = 3\n", encoding="utf-8")
    for env, path, start in [
        ({}, tmp_path / "missing.toml", f"configuration file {tmp_path / 'missing.toml'}: not found"),
        (
            {"MUHTAR_CONFIG": str(tmp_path / "nope.toml")},
            None,
            f"configuration file {tmp_path / 'nope.toml'}: not found",
        ),
        ({}, broken, f"configuration file {broken}: not valid TOML ("),
    ]:
        with pytest.raises(SettingsError) as caught:
            load(env, tmp_path, path)
        assert str(caught.value).startswith(start)
        assert "\n" not in str(caught.value)


def test_layers_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[smpp]\nwindow = 20\nport = 2776\n", encoding="utf-8")
    s = load({"MUHTAR_CONFIG": str(path), "MUHTAR_SMPP_WINDOW": "30"}, tmp_path)
    assert (s.smpp.window, s.smpp.port) == (30, 2776)
    s = load({}, tmp_path, path)
    assert (s.smpp.window, s.smpp.port) == (20, 2776)


def test_production_example_is_valid_once_its_secret_is_replaced(tmp_path: Path) -> None:
    example = CONFIG_DIR / "production.example.toml"
    with pytest.raises(SettingsError, match="web.secret_key"):
        load({}, tmp_path, example)
    s = load({"MUHTAR_WEB_SECRET_KEY": GOOD_KEY}, tmp_path, example)
    assert s.mode == "production" and not s.embedded
    assert s.database.url.startswith("postgresql+asyncpg://")
    assert s.bus.kind == "rabbitmq"
    assert s.smpp.simulator is False
    assert s.mail.enabled is True


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    s = load(
        {
            **PRODUCTION_ENV,
            "MUHTAR_SMPP_PASSWORD": "pw5678",
            "MUHTAR_MAIL_PASSWORD": "mail-secret-1",
            "MUHTAR_DATABASE_URL": "postgresql+asyncpg://muhtar:dbsecret9@db:5432/muhtar",
            "MUHTAR_BUS_AMQP_URL": "amqp://muhtar:mqsecret7@mq:5672/",
        },
        tmp_path,
    )
    text = repr(s)
    for secret in (GOOD_KEY, "pw5678", "mail-secret-1", "dbsecret9", "mqsecret7"):
        assert secret not in text
    assert "smpp=SmppSettings(host='127.0.0.1'" in text  # the rest stays readable
    assert s.smpp.password == "pw5678"  # hidden from repr, not lost


def test_embedded_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load({}, tmp_path).web.secret_key
    assert len(first) >= 32
    assert load({}, tmp_path).web.secret_key == first
    stored = tmp_path / "var" / "secret_key"
    assert stored.read_text(encoding="ascii").strip() == first
    assert stored.stat().st_mode & 0o077 == 0
    assert [p.name for p in stored.parent.iterdir()] == ["secret_key"]  # no temporary file left behind
    stored.write_text("short\n", encoding="ascii")
    with pytest.raises(SettingsError, match=r"^setting web.secret_key .*shorter than 32"):
        load({}, tmp_path)


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load({}, tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.smpp.window = 5  # type: ignore[misc]


def test_every_setting_has_an_environment_variable() -> None:
    names = {key.env for key in settings_module._schema().values()}
    assert {
        "MUHTAR_MODE",
        "MUHTAR_DATABASE_URL",
        "MUHTAR_BUS_RETRY_DELAYS_S",
        "MUHTAR_SMPP_WINDOW",
        "MUHTAR_SMPP_ENQUIRE_LINK_S",
        "MUHTAR_SMS_SOURCE_ADDR",
        "MUHTAR_SECURITY_SESSION_ABSOLUTE_H",
    } <= names
    assert len(names) == len(settings_module._schema())  # no two settings share a variable
