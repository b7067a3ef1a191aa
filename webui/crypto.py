"""Purpose-bound keys derived from ``web.secret_key``: one secret in the settings, one key per use.

Deriving (HKDF-SHA256 with a label per purpose) means a key leaked from one use — say the OTP hashes —
does not open the session cookies, and rotating the one secret rotates them all.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: str, label: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"muhtar-bilgi-sistemi", info=label.encode())
    return hkdf.derive(secret.encode("utf-8"))


@dataclass(frozen=True, repr=False)
class Keys:
    cookie: bytes  # Fernet key material for the encrypted session cookie
    otp: bytes  # HMAC key for one-time codes
    subject: bytes  # HMAC key turning a TCKN into a limit bucket name

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        return cls(
            cookie=_derive(secret, "session-cookie"),
            otp=_derive(secret, "otp-code"),
            subject=_derive(secret, "subject-key"),
        )

    def __repr__(self) -> str:
        return "Keys(<hidden>)"


def hmac_hex(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 over the parts, separated so that ("ab", "c") and ("a", "bc") differ."""
    message = "\x1f".join(parts).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
