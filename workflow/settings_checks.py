"""Conversion and checks for settings (used by workflow.settings).

A check carries the English phrase that completes "expected ..." in an error line, so the same phrase is
used whether the raw value could not be converted at all ('abc' for an integer) or was out of range.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class Invalid(Exception):
    """A raw value does not fit; ``expected`` completes the phrase "expected ..."."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


@dataclass(frozen=True)
class Check:
    expected: str
    test: Callable[[Any], bool]
    normalize: Callable[[Any], Any] | None = None


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_INT = re.compile(r"[+-]?\d+")
_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^@/]*@")

_TYPE_EXPECTED: dict[Any, str] = {
    str: "text",
    bool: "true or false",
    int: "an integer",
    float: "a number",
}


def convert(tp: Any, raw: Any, *, from_env: bool, check: Check | None) -> Any:
    """Convert a raw TOML value (or an environment string) to ``tp``, normalise and check it."""
    expected = check.expected if check is not None else _expected_for(tp)
    try:
        value = _to_type(tp, raw, from_env)
    except (ValueError, TypeError):
        raise Invalid(expected) from None
    if check is not None:
        if check.normalize is not None:
            value = check.normalize(value)
        if not check.test(value):
            raise Invalid(expected)
    return value


def _expected_for(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        item = typing.get_args(tp)[0]
        return f"a comma-separated list of {'integers' if item is int else 'values'}"
    return _TYPE_EXPECTED[tp]


def _to_type(tp: Any, raw: Any, from_env: bool) -> Any:
    if typing.get_origin(tp) is tuple:
        item = typing.get_args(tp)[0]
        if from_env:
            parts = [p for p in (s.strip() for s in str(raw).split(",")) if p != ""]
            return tuple(_scalar(item, p, True) for p in parts)
        if not isinstance(raw, list):
            raise TypeError("not a list")
        return tuple(_scalar(item, p, False) for p in raw)
    return _scalar(tp, raw, from_env)


def _scalar(tp: Any, raw: Any, from_env: bool) -> Any:
    if from_env:
        return _from_text(tp, raw)
    # TOML already typed the value; only accept the matching type (bool is not an int here).
    if tp is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return _finite(float(raw))
    if type(raw) is not tp:
        raise TypeError("wrong type")
    return raw


def _from_text(tp: Any, text: str) -> Any:
    if tp is str:
        return text
    stripped = text.strip()
    if tp is bool:
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise ValueError("not a boolean")
    if tp is int:
        if not _INT.fullmatch(stripped):
            raise ValueError("not an integer")
        return int(stripped)
    if tp is float:
        return _finite(float(stripped))
    raise TypeError(f"unsupported setting type {tp!r}")


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def shown(value: Any, secret: bool) -> str:
    """How a value may appear in repr and error lines: secrets masked, URL passwords removed."""
    if secret:
        return "'***'" if value not in ("", None) else "''"
    if isinstance(value, str):
        return repr(redact_url(value))
    return repr(value)


def redact_url(text: str) -> str:
    """Replace the password of any user:password@ in a URL by ***."""
    return _URL_PASSWORD.sub(r"\1***@", text)


# --- check constructors -----------------------------------------------------------------------------


def int_between(lo: int, hi: int) -> Check:
    return Check(f"an integer between {lo} and {hi}", lambda v: lo <= v <= hi)


def number_between(lo: float, hi: float) -> Check:
    return Check(f"a number between {lo:g} and {hi:g}", lambda v: lo <= v <= hi)


def ints_between(lo: int, hi: int) -> Check:
    return Check(
        f"a comma-separated list of integers between {lo} and {hi}",
        lambda v: all(lo <= i <= hi for i in v),
    )


def one_of(*choices: str, fold: Callable[[str], str] | None = None) -> Check:
    return Check(f"one of {', '.join(choices)}", lambda v: v in choices, normalize=fold)


def matches(pattern: str, description: str) -> Check:
    compiled = re.compile(pattern)
    return Check(description, lambda v: compiled.fullmatch(v) is not None)


def text_length(lo: int, hi: int) -> Check:
    phrase = f"text of at most {hi} characters" if lo == 0 else f"text of {lo} to {hi} characters"
    return Check(phrase, lambda v: lo <= len(v) <= hi)


def url_with_scheme(*schemes: str, allow_empty: bool = False) -> Check:
    phrase = "a URL starting with " + " or ".join(f"{s}://" for s in schemes)
    if allow_empty:
        phrase += ", or empty"

    def test(value: str) -> bool:
        if value == "":
            return allow_empty
        try:
            parts = urlsplit(value)
        except ValueError:
            return False
        if parts.scheme not in schemes or not value.startswith(parts.scheme + "://"):
            return False
        # sqlite URLs carry a path and no host; every other scheme needs a host.
        return bool(parts.path) if parts.scheme.startswith("sqlite") else bool(parts.hostname)

    return Check(phrase, test)


def email_or_empty() -> Check:
    address = re.compile(r"[^@\s<>]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    return Check(
        "an e-mail address such as bildirim@muhtar.gov.tr, or empty",
        lambda v: v == "" or address.fullmatch(v) is not None,
    )
