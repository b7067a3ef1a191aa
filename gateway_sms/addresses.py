"""Phone numbers and sender ids ↔ SMPP addresses (TON/NPI), with phonenumbers."""

from __future__ import annotations

import functools

import phonenumbers

TON_UNKNOWN, TON_INTERNATIONAL, TON_NATIONAL, TON_ALPHANUMERIC = 0, 1, 2, 5
NPI_UNKNOWN, NPI_ISDN = 0, 1


class InvalidAddress(ValueError):
    """Not a number we can send to; the SMS fails permanently (never retried)."""


@functools.lru_cache(maxsize=20_000)  # parsing is the costliest step of a submit; numbers repeat a lot
def destination(e164: str) -> tuple[int, int, str]:
    """(ton, npi, digits) for a destination in E.164: international TON, ISDN NPI, no plus sign."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise InvalidAddress("destination is not an E.164 number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress("destination is not a valid number")
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return TON_INTERNATIONAL, NPI_ISDN, digits


def source(sender: str) -> tuple[int, int, str]:
    """(ton, npi, address) for our sender: alphanumeric (TON 5), or a number / short code."""
    if not sender.isdigit():
        return TON_ALPHANUMERIC, NPI_UNKNOWN, sender
    if len(sender) >= 10:
        return TON_INTERNATIONAL, NPI_ISDN, sender
    return TON_UNKNOWN, NPI_ISDN, sender  # a short code


def to_e164(address: str, ton: int, region: str = "TR") -> str:
    """An MO sender address as E.164 when it can be read as a number; else the address as it came."""
    digits = address.strip()
    if ton == TON_INTERNATIONAL and digits.isdigit():
        candidate = "+" + digits
    else:
        candidate = digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return address
    if not phonenumbers.is_possible_number(number):
        return address
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
