"""Form helpers shared by the views: collected errors, safe redirects, quoting what was typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ECHO = 60


def echo(value: str) -> str:
    """What the person typed, for error messages ("… girdiğiniz: “1234”"), shortened if long."""
    text = " ".join(value.split())
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 1] + "…"


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field name -> Turkish message
    general: list[str] = field(default_factory=list)  # errors not tied to one field

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def context(self) -> dict[str, Any]:
        return {"values": self.values, "errors": self.errors, "general_errors": self.general}


def text_field(data: Any, name: str, max_length: int = 10000) -> str:
    value = data.get(name, "")
    return value[:max_length] if isinstance(value, str) else ""


def safe_next(target: str | None, default: str) -> str:
    """Only paths on this site: "/talepler/5" yes, "//evil.example" or "https://…" no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
