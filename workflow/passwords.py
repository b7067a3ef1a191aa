"""Staff passwords: Argon2id hashes (argon2-cffi); the password itself is never stored or logged."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

PASSWORD_MIN = 10


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"Parola en az {PASSWORD_MIN} karakter olmalıdır.")
    if password.isdigit() or password.isalpha():
        raise WeakPassword("Parola hem harf hem de rakam veya işaret içermelidir.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
