"""Table-driven tests of the address rule: transliteration, several names, hyphens, collisions."""

from __future__ import annotations

import pytest

from workflow.mail.addresses import (
    MAX_LOCAL_PART,
    NoAddress,
    allocate,
    ascii_word,
    assign_all,
    base_local_part,
    split_name,
    turkish_title,
)

# full name as registered -> local part before collisions
NAMES = [
    ("İsmail Çağrı Öztürk", "ismail.ozturk"),
    ("Ayşe Gül Şahin-Yılmaz", "ayse.sahin-yilmaz"),
    ("Ayşe Yılmaz", "ayse.yilmaz"),
    ("AYŞE YILMAZ", "ayse.yilmaz"),
    ("ayşe yılmaz", "ayse.yilmaz"),
    ("Mehmet Öztürk", "mehmet.ozturk"),
    ("Mustafa Kemal Çelik", "mustafa.celik"),
    ("Hüseyin Aydın", "huseyin.aydin"),
    ("Fatma Nur Doğan", "fatma.dogan"),
    ("Emine Kılıç", "emine.kilic"),
    ("İbrahim Halil Arslan", "ibrahim.arslan"),
    ("Hatice Kübra Yıldız", "hatice.yildiz"),
    ("Ömer Faruk Koç", "omer.koc"),
    ("Zeynep Şimşek", "zeynep.simsek"),
    ("Osman Güneş", "osman.gunes"),
    ("Şükrü Ağaoğlu", "sukru.agaoglu"),
    ("Ümmühan Çiftçi", "ummuhan.ciftci"),
    ("Gülşen Özdemir-Kaya", "gulsen.ozdemir-kaya"),
    ("Kâzım Karabekir", "kazim.karabekir"),
    ("Hâkim Âli Şükûr", "hakim.sukur"),
    ("Nurullah Îmâm", "nurullah.imam"),
    ("IŞIL IRMAK", "isil.irmak"),
    ("ILGAZ İNCE", "ilgaz.ince"),
    ("Ilgın Işık", "ilgin.isik"),
    ("Çağla Ünal", "cagla.unal"),
    ("Ğ Öz", "g.oz"),
    ("Recep Tayyip Gürbüz", "recep.gurbuz"),
    ("Abdülkadir Geylani Kurtoğlu", "abdulkadir.kurtoglu"),
    ("Mehmet Ali Birand", "mehmet.birand"),
    ("Nur'an Sarı", "nuran.sari"),
    ("M. Ali Kaya", "m.kaya"),
    ("Süleyman   Demirtaş", "suleyman.demirtas"),  # several spaces
    ("\tHülya\u00a0Avşar ", "hulya.avsar"),  # tab and no-break space
    ("Cemile", "cemile"),  # one word
    ("Yusuf Ziya Öz-Türk-Kaya", "yusuf.oz-turk-kaya"),
    ("Elif -Şen-", "elif.sen"),  # stray hyphens trimmed
    ("Emre Kaya--Demir", "emre.kaya-demir"),  # doubled hyphen collapsed
    ("Rüştü Reçber (Muhtar)", "rustu.muhtar"),  # brackets removed; last word still the surname
    ("José Öğüt", "jose.ogut"),  # foreign accent dropped
    ("Ayşe Gül Şahin Yılmaz", "ayse.yilmaz"),  # maiden name without hyphen: the last word counts
    ("Ahmet 2. Yılmaz", "ahmet.yilmaz"),
    ("Gökçe Su Ilıcalı", "gokce.ilicali"),
    ("Tuğba Öğretmen", "tugba.ogretmen"),
    ("Şeyma Büşra Gündoğdu", "seyma.gundogdu"),
    ("AYŞEGÜL İŞÇİ", "aysegul.isci"),  # upper-case dotted İ
    ("Ayşe\u0307 Yılmaz", "ayse.yilmaz"),  # stray combining dot
    ("Ays\u0327e Yılmaz", "ayse.yilmaz"),  # decomposed ş (s + combining cedilla)
]


@pytest.mark.parametrize(("name", "expected"), NAMES)
def test_base_local_part(name: str, expected: str) -> None:
    assert base_local_part(name) == expected


def test_the_table_has_at_least_forty_names() -> None:
    assert len({name for name, _ in NAMES}) >= 40


@pytest.mark.parametrize("name", ["", "   ", "...", "'-'", "()", "中文 名字"])
def test_names_without_usable_characters_are_refused(name: str) -> None:
    with pytest.raises(NoAddress):
        base_local_part(name)


def test_every_local_part_uses_only_allowed_characters() -> None:
    for name, _ in NAMES:
        local = base_local_part(name)
        assert set(local) <= set("abcdefghijklmnopqrstuvwxyz0123456789.-"), name
        assert not local.startswith((".", "-")) and not local.endswith((".", "-"))


def test_a_very_long_name_fits_an_address_with_room_for_a_number() -> None:
    local = base_local_part("Muhammed" + "a" * 80 + " " + "Yılmaz" * 10)
    assert len(local) + len("999999") <= MAX_LOCAL_PART


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Ç", "c"),
        ("ğ", "g"),
        ("ı", "i"),
        ("İ", "i"),
        ("I", "i"),
        ("Ö", "o"),
        ("ş", "s"),
        ("Ü", "u"),
        ("â", "a"),
        ("Î", "i"),
        ("û", "u"),
        ("ÇĞIİÖŞÜ", "cgiiosu"),
    ],
)
def test_transliteration_of_each_letter(word: str, expected: str) -> None:
    assert ascii_word(word) == expected


# (people in registration order, addresses issued before) -> the local parts they get
COLLISIONS = [
    (
        # Namesakes in different provinces: Ankara first, then İzmir, Van, Muğla.
        [("ank", "Ayşe Yılmaz"), ("izm", "AYŞE YILMAZ"), ("van", "Ayşe Nur Yılmaz"), ("mug", "ayşe yılmaz")],
        [],
        {"ank": "ayse.yilmaz", "izm": "ayse.yilmaz2", "van": "ayse.yilmaz3", "mug": "ayse.yilmaz4"},
    ),
    (
        # ayse.yilmaz was issued to a muhtar who has left office: it is never reused.
        [("new", "Ayşe Yılmaz")],
        ["ayse.yilmaz"],
        {"new": "ayse.yilmaz2"},
    ),
    (
        # A gap in the numbers is not filled by a later namesake if it was ever issued...
        [("a", "Ali Can"), ("b", "Ali Can")],
        ["ali.can", "ali.can2", "ali.can4"],
        {"a": "ali.can3", "b": "ali.can5"},
    ),
    (
        # ...and the smallest free number is taken.
        [("a", "Ali Can")],
        ["ali.can", "ali.can3"],
        {"a": "ali.can2"},
    ),
    (
        # Different spellings folding to one address collide like namesakes.
        [("a", "Şule Çakır"), ("b", "Sule Cakir"), ("c", "ŞULE ÇAKIR")],
        [],
        {"a": "sule.cakir", "b": "sule.cakir2", "c": "sule.cakir3"},
    ),
    (
        # A name with no usable characters gets nothing; the others are not disturbed.
        [("a", "..."), ("b", "Deniz Ak")],
        [],
        {"b": "deniz.ak"},
    ),
    (
        # A base that itself ends in a digit still gets a number appended, never confused.
        [("a", "Ali Can2"), ("b", "Ali Can")],
        ["ali.can"],
        {"a": "ali.can2", "b": "ali.can3"},
    ),
]


@pytest.mark.parametrize(("people", "issued", "expected"), COLLISIONS)
def test_collisions(people: list[tuple[str, str]], issued: list[str], expected: dict[str, str]) -> None:
    assert assign_all(people, issued) == expected
    # Deterministic: the same input gives the same answer.
    assert assign_all(people, issued) == expected


def test_allocate_counts_from_two() -> None:
    taken = {"x", "x2"}
    assert allocate("x", taken.__contains__) == "x3"
    assert allocate("y", taken.__contains__) == "y"


@pytest.mark.parametrize(
    ("name", "display", "given", "surname"),
    [
        ("AYŞE GÜL ŞAHİN-YILMAZ", "Ayşe Gül Şahin-Yılmaz", "Ayşe Gül", "Şahin-Yılmaz"),
        ("ismail çağrı öztürk", "İsmail Çağrı Öztürk", "İsmail Çağrı", "Öztürk"),
        ("IŞIL IRMAK", "Işıl Irmak", "Işıl", "Irmak"),
        ("İLKNUR İNAN", "İlknur İnan", "İlknur", "İnan"),
        ("Cemile", "Cemile", "", "Cemile"),
        ("  ümit   ılgaz ", "Ümit Ilgaz", "Ümit", "Ilgaz"),
    ],
)
def test_display_names_in_turkish_case(name: str, display: str, given: str, surname: str) -> None:
    assert turkish_title(name) == display
    assert split_name(name) == (given, surname)
