"""Identity helpers shared by every entry point: TCKN and Turkish mobile validation, masking, Turkish case.

No I/O. A rejected value raises an ``InvalidIdentity`` subclass whose ``str()`` is a Turkish sentence fit to
show the person who typed it and whose ``reason`` is a short English phrase for operators' reports. Neither
ever contains the value itself (KVKK: TCKN and phone numbers never reach logs).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import phonenumbers
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError
from stdnum.tr import tckimlik


class InvalidIdentity(ValueError):
    """A TCKN or phone number was rejected. ``str(exc)`` is Turkish; ``reason`` is English."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class InvalidTCKN(InvalidIdentity):
    pass


class InvalidPhone(InvalidIdentity):
    pass


_TCKN_ERRORS: Final = {
    "empty": "T.C. Kimlik No boş olamaz.",
    "format": "T.C. Kimlik No yalnızca rakamlardan oluşmalı ve 0 ile başlamamalıdır.",
    "length": "T.C. Kimlik No 11 haneli olmalıdır.",
    "check digits": "T.C. Kimlik No geçersiz: kontrol haneleri tutmuyor.",
}

_PHONE_EXAMPLE: Final = " Örnek: 0532 123 45 67"
_PHONE_ERRORS: Final = {
    "empty": "Cep telefonu numarası boş olamaz.",
    "format": "Cep telefonu numarası yalnızca rakam, boşluk, +, - ve parantez içerebilir." + _PHONE_EXAMPLE,
    "unparseable": "Cep telefonu numarası anlaşılamadı." + _PHONE_EXAMPLE,
    "not Turkish": "Yalnızca Türkiye'deki (+90) cep telefonu numaraları kabul edilir.",
    "invalid number": "Bu telefon numarası geçerli değil." + _PHONE_EXAMPLE,
    "not a mobile number": "Bu bir cep telefonu numarası değil." + _PHONE_EXAMPLE,
}

# Letters are refused outright: phonenumbers would otherwise read "0532 FLOWERS" as keypad digits.
_PHONE_CHARS = re.compile(r"^[0-9+\-(). ]{1,32}$")
_SPACES = re.compile(r"\s+")


def _tckn_error(reason: str) -> InvalidTCKN:
    return InvalidTCKN(_TCKN_ERRORS[reason], reason)


def _phone_error(reason: str) -> InvalidPhone:
    return InvalidPhone(_PHONE_ERRORS[reason], reason)


def validate_tckn(value: str) -> str:
    """Return the 11-digit TCKN (spaces removed) or raise InvalidTCKN."""
    number = _SPACES.sub("", value)
    if not number:
        raise _tckn_error("empty")
    if not (number.isascii() and number.isdigit()):
        raise _tckn_error("format")
    try:
        return str(tckimlik.validate(number))
    except InvalidLength:
        raise _tckn_error("length") from None
    except InvalidChecksum:
        raise _tckn_error("check digits") from None
    except (InvalidFormat, ValidationError):
        raise _tckn_error("format") from None


def normalize_tr_mobile(value: str) -> str:
    """Return a Turkish mobile number as E.164 ("+905321234567") or raise InvalidPhone.

    Accepts "0532 123 45 67", "+90 532 123 45 67", "90532…", "0090 532…" and "532…".
    """
    text = value.strip()
    if not text:
        raise _phone_error("empty")
    if not _PHONE_CHARS.match(text):
        raise _phone_error("format")
    try:
        number = phonenumbers.parse(text, "TR")
    except phonenumbers.NumberParseException:
        raise _phone_error("unparseable") from None
    if number.country_code != 90:
        raise _phone_error("not Turkish")
    if not phonenumbers.is_valid_number(number):
        raise _phone_error("invalid number")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise _phone_error("not a mobile number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask_tckn(tckn: str) -> str:
    """"12345678901" -> "123******01": enough for a person to recognise their own number."""
    if len(tckn) < 6:
        return "*" * len(tckn)
    return tckn[:3] + "*" * (len(tckn) - 5) + tckn[-2:]


def mask_phone(e164: str) -> str:
    """"+905321234567" -> "0532 *** ** 67" (the national form of a Turkish mobile, masked)."""
    if e164.startswith("+90") and len(e164) == 13:
        return f"0{e164[3:6]} *** ** {e164[-2:]}"
    return "*" * max(len(e164) - 2, 0) + e164[-2:]


def turkish_upper(text: str) -> str:
    """Upper-case with Turkish rules: i -> İ, ı -> I ("istanbul ılıca" -> "İSTANBUL ILICA")."""
    return text.replace("i", "İ").replace("ı", "I").upper()


def turkish_lower(text: str) -> str:
    """Lower-case with Turkish rules: İ -> i, I -> ı (Python's str.lower turns İ into two code points)."""
    return text.replace("İ", "i").replace("I", "ı").lower()


# Circumflexes are optional in everyday spelling ("Kâzım" / "Kazım"), so matching ignores them.
_CIRCUMFLEX: Final = str.maketrans({"â": "a", "î": "i", "û": "u"})


def turkish_fold(name: str) -> str:
    """A key for matching names: Turkish-aware case fold, circumflexes dropped, whitespace collapsed.

    turkish_fold("ayşe  YILMAZ") == turkish_fold("AYŞE Yılmaz") == "ayşe yılmaz".
    """
    text = unicodedata.normalize("NFC", name)
    text = turkish_lower(text).replace("i\u0307", "i").casefold().translate(_CIRCUMFLEX)
    return _SPACES.sub(" ", text).strip()
