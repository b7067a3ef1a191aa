"""Reply texts: the 2-part budget in every encoding mode, the preference order of fit(), dates, screens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway_sms.encoding import MODES, segments
from inbound import answers
from inbound.limits import RateLimit
from inbound.replies import fit, fit_screen, gsm_forms, is_gsm7, local_date, render, screen_fits
from inbound.service import InboundConfig, filing_text, help_text, list_text, status_text
from inbound.ussd import list_screen, status_screen
from workflow.domain.model import RequestKind, RequestState

U = answers.UnitProgress
UNIT_NAMES = [
    "Ankara Valiliği",
    "Ankara Büyükşehir Belediyesi",
    "Çankaya Belediyesi",
    "Keçiören Belediyesi",
    "Yenimahalle Belediyesi",
    "Altındağ Belediyesi",
    "Mamak Belediyesi",
    "Etimesgut Belediyesi",
    "Sincan Belediyesi",
    "Gölbaşı Belediyesi",
    "Pursaklar Belediyesi",
    "Kahramankazan Belediyesi",
]
WHEN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def config(mode: str) -> InboundConfig:
    return InboundConfig(RateLimit(), mode, "https://muhtar.example.gov.tr")


def view(units: int) -> answers.StatusView:
    progress = tuple(U(name, i % 2 == 0) for i, name in enumerate(UNIT_NAMES[:units]))
    state = RequestState.YONLENDIRILEN if units else RequestState.BEKLEYEN
    return answers.StatusView(123456, state, WHEN, progress)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("units", [0, 1, 2, 3, 5, 8, 12])
def test_status_never_exceeds_two_parts_and_keeps_what_fits(mode: str, units: int) -> None:
    text = status_text(view(units), config(mode))
    assert segments(text, mode) <= 2
    assert text.startswith("Talep 123456: ")
    assert "25.11.2026" in text
    if units:
        folded = gsm_forms(text)
        shown = sum(
            1
            for name in UNIT_NAMES[:units]
            if gsm_forms(name) + ":" in folded or gsm_forms(answers.abbreviate(name)) + ":" in folded
        )
        more = units - shown
        assert shown >= 1
        assert (f"+{more} birim daha" in text) == (more > 0)


def test_two_units_fit_in_one_sms_in_gsm7_mode() -> None:
    text = status_text(view(2), config("gsm7"))
    assert segments(text, "gsm7") == 1
    assert "Ankara Valiligi: tamamlandi" in text and "Ankara Büyüksehir Belediyesi: islemde" in text


def test_turkish_shift_keeps_turkish_letters() -> None:
    text = status_text(view(2), config("turkish_shift"))
    assert "Ankara Valiliği: tamamlandı" in text and segments(text, "turkish_shift") == 1


@pytest.mark.parametrize("mode", MODES)
def test_fixed_replies_fit(mode: str) -> None:
    c = config(mode)
    help_reply = help_text(c)
    assert segments(help_reply, mode) <= (1 if mode != "ucs2_only" else 2)
    assert "TALEP 1234" in help_reply and "TALEPLER" in help_reply
    for outcome in (
        answers.Filed(9_999_999, RequestKind.GORUS_ONERI),
        answers.Refused("Açıklama en fazla 4000 karakter olabilir."),
        answers.Ambiguous(),
    ):
        assert segments(filing_text(outcome, c), mode) <= 2
    for name, context in (
        ("inbound_too_short", {"minimum": 20, "keyword": "SIKAYET"}),
        ("inbound_rate_limited", {"minutes": 60}),
        ("inbound_unregistered", {"web_url": c.web_url}),
        ("inbound_not_found", {"typed": "1234567890123456"}),
    ):
        text = render(name, **context)
        assert segments(fit([text], mode=mode), mode) <= 2
        assert fit([text], mode=mode) in (text, gsm_forms(text)), name  # never cut


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("count", "total"), [(0, 0), (1, 1), (5, 5), (30, 30), (30, 250)])
def test_list_fits_and_counts_the_rest(mode: str, count: int, total: int) -> None:
    items = tuple(
        answers.OpenItem(50_000 - i, RequestState.YONLENDIRILEN if i % 2 else RequestState.BEKLEYEN)
        for i in range(count)
    )
    text = list_text(answers.OpenList(items, total), config(mode))
    assert segments(text, mode) <= 2
    listed = sum(1 for item in items if str(item.number) in text)
    if total == 0:
        assert "talebiniz yok" in gsm_forms(text)
    elif listed < total:
        assert f"{total - listed} talep daha var" in text and "https://muhtar.example.gov.tr" in text


FIT_CASES = [
    # complete, lossy, mode, expected: first candidate that fits one part, as written or in GSM letters
    (["kısa"], [], "gsm7", "kısa"),  # one part either way: Turkish letters kept
    (["kısa"], [], "turkish_shift", "kısa"),
    (["kısa"], [], "ucs2_only", "kısa"),
    (["ş" * 100, "kısa"], [], "gsm7", "s" * 100),
    (["a" * 200, "b" * 100], [], "gsm7", "b" * 100),  # every detail in one part wins over two parts
    (["a" * 200], ["b" * 100], "gsm7", "a" * 200),  # but two parts with every detail beat fewer details
    (["a" * 400], ["b" * 300], "gsm7", "b" * 300),
]


@pytest.mark.parametrize(("complete", "lossy", "mode", "expected"), FIT_CASES)
def test_fit_preference(complete: list[str], lossy: list[str], mode: str, expected: str) -> None:
    assert fit(complete, lossy, mode=mode) == expected


def test_fit_cuts_as_last_resort() -> None:
    text = fit(["ş" * 500], mode="ucs2_only")
    assert segments(text, "ucs2_only") == 2 and text.endswith("...")
    assert fit(["x" * 5000], mode="gsm7").endswith("...")
    with pytest.raises(ValueError):
        fit([])


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 11, 25, 20, 59, tzinfo=UTC), "25.11.2026"),
        (datetime(2026, 11, 25, 21, 0, tzinfo=UTC), "26.11.2026"),  # midnight in Istanbul (UTC+3)
        (datetime(2026, 12, 31, 21, 30, tzinfo=UTC), "01.01.2027"),
        (datetime(2026, 11, 25, 21, 0), "26.11.2026"),  # naive values from SQLite are UTC
    ],
)
def test_local_date(at: datetime, expected: str) -> None:
    assert local_date(at) == expected


def test_templates_render_in_turkish() -> None:
    assert render("inbound_filed", kind="İhbar", number=5) == (
        "İhbar talebiniz alındı, talep no: 5. Durumu için TALEP 5 yazıp gönderin."
    )
    assert render("inbound_not_found", typed="") == (
        "Talep bulunamadı. Yalnızca talebi açan muhtarın kayıtlı telefonundan sorgulanabilir."
    )


@pytest.mark.parametrize("units", [0, 1, 2, 5, 12])
def test_ussd_status_screen_fits(units: int) -> None:
    text = status_screen(view(units))
    assert screen_fits(text) and len(text) <= (160 if is_gsm7(text) else 80)
    assert text.startswith("Talep 123456: ")


@pytest.mark.parametrize("count", [0, 1, 3, 30])
def test_ussd_list_screen_fits(count: int) -> None:
    items = tuple(answers.OpenItem(50_000 - i, RequestState.BEKLEYEN) for i in range(count))
    assert screen_fits(list_screen(answers.OpenList(items, count + 7)))


def test_fit_screen_prefers_turkish_letters_then_gsm_then_cuts() -> None:
    assert fit_screen(["Açık"]) == "Açık"
    assert fit_screen(["ı" * 100]) == "i" * 100
    cut = fit_screen(["ı" * 500])
    assert len(cut) == 160 and cut.endswith("...")
