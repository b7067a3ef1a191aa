"""The onay kodu SMS: one part even in UCS-2 (70 characters), code and lifetime in it."""

from __future__ import annotations

import pytest

from webui.login_service import otp_text
from webui.otp import CODE_LENGTH, decoy_mask, new_code


@pytest.mark.parametrize("ttl_s", [60, 180, 3600])
def test_otp_sms_is_one_part_and_says_how_long(ttl_s: int) -> None:
    text = otp_text("483920", ttl_s)
    assert len(text) <= 70
    assert "483920" in text and f"{ttl_s // 60} dk" in text


def test_codes_are_six_digits() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == CODE_LENGTH and c.isdigit() for c in codes)
    assert len(codes) > 190  # random, not a sequence


@pytest.mark.parametrize("subject", ["a" * 64, "b" * 64, "0123456789abcdef" * 4])
def test_decoy_masks_look_like_real_ones(subject: str) -> None:
    mask = decoy_mask(b"k" * 32, subject)
    assert mask == decoy_mask(b"k" * 32, subject)
    assert len(mask) == len("0532 *** ** 67") and mask.startswith("05") and " *** ** " in mask
