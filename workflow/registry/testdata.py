"""Generators of valid-looking but invented muhtar data, shared by tests, bench/ and demo-seed.

Deterministic for a given ``random.Random``: the same seed gives the same people. The TCKNs have correct
check digits and the phones are valid Turkish mobile numbers, but none belongs to a real person on purpose
(they are random; a collision with a real number would be chance, and nothing here is ever sent anywhere).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from stdnum.tr import tckimlik

FIRST_NAMES = (
    "Ayşe", "Fatma", "Emine", "Hatice", "Zeynep", "Elif", "Şükran", "Gülşen", "İpek", "Özlem",
    "Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan", "İbrahim", "İsmail", "Ömer", "Çağrı",
    "Işıl", "Ilgaz", "Oğuz", "Ümit", "Yusuf", "Kâzım", "Gökhan", "Serpil", "Nurşen", "Tuğba",
)
SURNAMES = (
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir",
    "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek",
    "Işık", "İnce", "Güneş", "Erdoğan", "Uçar", "Akgül", "Bulut", "Keskin", "Ünal", "Polat",
)
# Turkish GSM prefixes (Turkcell 53x, Vodafone 54x, Türk Telekom 50x/55x) that phonenumbers calls MOBILE.
MOBILE_PREFIXES = ("530", "532", "533", "535", "536", "537", "538", "539", "541", "542", "543",
                   "544", "545", "546", "505", "506", "507", "551", "552", "553", "554", "555")


@dataclass(frozen=True, slots=True)
class FakeMuhtar:
    tckn: str
    full_name: str
    phone_e164: str
    muhtarlik_code: str


def make_tckn(rng: random.Random) -> str:
    """A random 11-digit TCKN with valid check digits (first digit never 0)."""
    body = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return body + str(tckimlik.calc_check_digits(body))


def make_mobile(rng: random.Random) -> str:
    """A random Turkish mobile number in E.164, e.g. "+905321234567"."""
    return "+90" + rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(7))


def make_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


def make_muhtars(rng: random.Random, muhtarlik_codes: Sequence[str], count: int) -> Iterator[FakeMuhtar]:
    """``count`` muhtars with distinct TCKNs and phones, spread over ``muhtarlik_codes`` (one each while they last)."""
    seen: set[str] = set()  # TCKNs and phones: both must be unique (a phone identifies its muhtar by SMS)
    for i in range(count):
        tckn = _fresh(make_tckn, rng, seen)
        name = make_name(rng)
        phone = _fresh(make_mobile, rng, seen)
        yield FakeMuhtar(tckn, name, phone, muhtarlik_codes[i % len(muhtarlik_codes)])


def _fresh(make: Callable[[random.Random], str], rng: random.Random, seen: set[str]) -> str:
    value = make(rng)
    while value in seen:
        value = make(rng)
    seen.add(value)
    return value


def national_form(e164: str) -> str:
    """"+905321234567" -> "0532 123 45 67", the way people write it in a spreadsheet."""
    n = e164[3:]
    return f"0{n[:3]} {n[3:6]} {n[6:8]} {n[8:]}"


def muhtars_csv(muhtars: Sequence[FakeMuhtar], delimiter: str = ",") -> str:
    """The import file format of ``muhtar muhtars import``: header row, then one muhtar per line."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(("tckn", "name", "phone", "muhtarlik"))
    for m in muhtars:
        writer.writerow((m.tckn, m.full_name, national_form(m.phone_e164), m.muhtarlik_code))
    return buf.getvalue()
