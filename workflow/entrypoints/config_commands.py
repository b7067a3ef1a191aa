"""`muhtar config check` and `muhtar config show`: what the loaded settings are, secrets hidden."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, is_dataclass
from typing import Any

from workflow.settings import Settings
from workflow.settings_checks import redact_url


def check(settings: Settings, args: argparse.Namespace) -> int:
    """Loading already validated everything; say what the settings select."""
    database = settings.database.url.split(":", 1)[0]
    print(
        f"configuration OK: mode {settings.mode}, database {database}, bus {settings.bus.kind}, "
        f"SMSC {'simulator' if settings.smpp.simulator else settings.smpp.host}, web {settings.web.base_url}"
    )
    return 0


def show(settings: Settings, args: argparse.Namespace) -> int:
    """Print the effective settings as TOML; secrets and passwords inside URLs are replaced by ***."""
    print("\n".join(render(settings)))
    return 0


def render(settings: Settings) -> list[str]:
    top: list[str] = []
    sections: list[str] = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        if not is_dataclass(value):
            top.append(f"{f.name} = {_toml(value, f.metadata.get('secret', False))}")
            continue
        sections.append(f"\n[{f.name}]")
        for item in fields(value):
            shown = _toml(getattr(value, item.name), item.metadata.get("secret", False))
            sections.append(f"{item.name} = {shown}")
    return top + sections


def _toml(value: Any, secret: bool) -> str:
    if secret:
        return '"***"' if value else '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(redact_url(value), ensure_ascii=False)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v, False) for v in value) + "]"
    return str(value)
