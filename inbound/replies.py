"""Reply texts: Jinja2 templates under ``templates/sms/inbound_*.txt``, fitted to the SMS budget.

Templates are written in correct Turkish. :func:`fit` then picks what is sent, in this order of
preference:

1. every detail, in one SMS: as written, or with Turkish letters outside the GSM 7-bit alphabet written
   in their ASCII forms (ş→s, ğ→g, ı→i, İ→I, ç→c — what Turkish SMS senders commonly do, because a
   single ``ş`` turns a 160-character SMS into a 70-character UCS-2 one);
2. every detail, in up to ``max_segments`` parts;
3. fewer details (the caller's "lossy" candidates, e.g. fewer units listed), in up to ``max_segments``;
4. as a last resort the last candidate cut to fit, so the limit holds whatever the data.

Segments are counted by ``gateway_sms.encoding.segments`` under the configured ``sms.encoding`` mode, the
same function the gateway uses to split, so what is counted here is what the operator bills.

Templates render plain text (no HTML escaping). Replies never echo what a person typed except digits
already validated by the parser, and Turkish messages produced by the domain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2

from gateway_sms.encoding import plan, segments
from workflow.paths import TEMPLATES_DIR

logger = logging.getLogger(__name__)

ISTANBUL: Final = ZoneInfo("Europe/Istanbul")
MAX_SEGMENTS: Final = 2
SMS_TEMPLATES_DIR: Final = TEMPLATES_DIR / "sms"

# Turkish (and circumflexed) letters that are not in the GSM 7-bit default alphabet -> ASCII forms.
# Ç, Ö, Ü, ö, ü are in the default alphabet and stay.
_GSM_FORMS: Final = str.maketrans(
    {
        "ç": "c",
        "ğ": "g",
        "Ğ": "G",
        "ı": "i",
        "İ": "I",
        "ş": "s",
        "Ş": "S",
        "â": "a",
        "Â": "A",
        "î": "i",
        "Î": "I",
        "û": "u",
        "Û": "U",
        "…": "...",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
    }
)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SMS_TEMPLATES_DIR),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # read once: no stat() of the template file on every MO
    )


def render(name: str, **context: Any) -> str:
    """Render ``templates/sms/<name>.txt`` to one line (template line breaks are only for reading)."""
    text = environment().get_template(f"{name}.txt").render(**context)
    return " ".join(text.split())


def gsm_forms(text: str) -> str:
    """Turkish letters outside the GSM 7-bit default alphabet replaced by their ASCII forms."""
    return text.translate(_GSM_FORMS)


def is_gsm7(text: str) -> bool:
    """True when ``text`` needs no UCS-2 (every character in the GSM 7-bit alphabet or its extension)."""
    return plan(text, "gsm7", ref=0).scheme == "gsm7"


def local_date(at: datetime) -> str:
    """DD.MM.YYYY in Europe/Istanbul (times are UTC inside; SQLite hands them back naive)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ISTANBUL).strftime("%d.%m.%Y")


def fit(
    complete: Sequence[str],
    lossy: Iterable[str] = (),
    *,
    mode: str = "gsm7",
    max_segments: int = MAX_SEGMENTS,
) -> str:
    """The preferred text that fits in ``max_segments`` parts (see the module docstring)."""
    if not complete:
        raise ValueError("fit() needs at least one complete candidate")

    def variants(text: str) -> tuple[str, str]:
        return text, gsm_forms(text)

    for text in complete:
        for variant in variants(text):
            if segments(variant, mode) == 1:
                return variant
    last = complete[-1]
    for text in [*complete, *lossy]:
        last = text
        for variant in variants(text):
            if segments(variant, mode) <= max_segments:
                return variant
    logger.warning("SMS reply too long for %d segments even shortened; cutting it", max_segments)
    return _cut(gsm_forms(last), mode, max_segments)


def _cut(text: str, mode: str, max_segments: int) -> str:
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if segments(text[:middle].rstrip() + "...", mode) <= max_segments:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "..."


# --- USSD screens -------------------------------------------------------------------------------------

#: A USSD screen holds at most this many characters, or the lower figure when it needs UCS-2.
SCREEN_GSM7: Final = 160
SCREEN_UCS2: Final = 80


def render_screen(name: str, **context: Any) -> str:
    """Render a USSD screen template keeping its line breaks (one item per line on the phone)."""
    text = environment().get_template(f"{name}.txt").render(**context)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def screen_fits(text: str) -> bool:
    return len(text) <= (SCREEN_GSM7 if is_gsm7(text) else SCREEN_UCS2)


def fit_screen(candidates: Sequence[str]) -> str:
    """The first candidate that fits a USSD screen, as written or in GSM 7-bit letters; else cut."""
    for text in candidates:
        for variant in (text, gsm_forms(text)):
            if screen_fits(variant):
                return variant
    logger.warning("USSD screen too long even shortened; cutting it")
    text = gsm_forms(candidates[-1])
    limit = SCREEN_GSM7 if is_gsm7(text) else SCREEN_UCS2
    return text[: limit - 3].rstrip() + "..."
