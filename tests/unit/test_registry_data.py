"""The committed registry under config/registry/ yields exactly the Foundation issue's acceptance figures."""

from __future__ import annotations

import gzip
import shutil
from collections import Counter
from pathlib import Path

import pytest

from workflow.registry.build import repair_lowered_name
from workflow.registry.data import (
    DEFAULT_REGISTRY_DIR,
    MUHTARLIKS_FILE,
    PROVINCES_FILE,
    MuhtarlikRecord,
    RegistryDataError,
    RegistrySource,
    UnitRecord,
    iter_muhtarliks,
    iter_units,
    read_source,
)


@pytest.fixture(scope="module")
def source() -> RegistrySource:
    return read_source(DEFAULT_REGISTRY_DIR)


@pytest.fixture(scope="module")
def units(source: RegistrySource) -> list[UnitRecord]:
    return list(iter_units(source))


@pytest.fixture(scope="module")
def muhtarliks(source: RegistrySource) -> list[MuhtarlikRecord]:
    return list(iter_muhtarliks(source))


DIRECTORATE_COUNT = 20
EXPECTED_UNITS = {
    ("migm", None): 1,
    ("valilik", None): 81,
    ("il_mudurlugu", None): 81 * DIRECTORATE_COUNT,
    ("il_ozel_idaresi", None): 51,
    ("kaymakamlik", None): 922,
    ("belediye", "buyuksehir"): 30,
    ("belediye", "il"): 51,
    ("belediye", "ilce"): 922,
    ("belediye", "belde"): 390,
}


def test_unit_counts_are_the_acceptance_figures(units: list[UnitRecord]) -> None:
    assert Counter((u.kind, u.belediye_kind) for u in units) == EXPECTED_UNITS
    assert len(units) == 1 + 81 + 1620 + 51 + 922 + 30 + 51 + 922 + 390 == 4068


def test_belediye_total_matches_the_2024_figure(units: list[UnitRecord]) -> None:
    assert sum(u.kind == "belediye" for u in units) == 1393


def test_directorate_set(source: RegistrySource) -> None:
    keys = [d.key for d in source.directorates]
    assert len(keys) == DIRECTORATE_COUNT
    for key in (
        "saglik",
        "milli_egitim",
        "tarim_orman",
        "aile_sosyal_hizmetler",
        "cevre_sehircilik",
        "genclik_spor",
        "kultur_turizm",
        "ticaret",
        "sanayi_teknoloji",
        "nufus_vatandaslik",
        "goc_idaresi",
        "emniyet",
        "jandarma",
        "muftuluk",
        "afad",
        "karayollari",
    ):
        assert key in keys


def test_muhtarlik_counts(muhtarliks: list[MuhtarlikRecord]) -> None:
    assert Counter(m.kind for m in muhtarliks) == {"mahalle": 32186, "koy": 18183}
    assert len(muhtarliks) == 50369


def test_codes_are_unique(units: list[UnitRecord], muhtarliks: list[MuhtarlikRecord]) -> None:
    codes = [u.code for u in units] + [m.code for m in muhtarliks]
    assert len(codes) == len(set(codes))


def test_mahalle_and_koy_source_ids_overlap_so_the_prefix_matters(muhtarliks: list[MuhtarlikRecord]) -> None:
    mahalle = {m.code[2:] for m in muhtarliks if m.kind == "mahalle"}
    koy = {m.code[2:] for m in muhtarliks if m.kind == "koy"}
    assert mahalle & koy  # without M-/K- prefixes these would collide
    assert all(m.code.startswith("M-" if m.kind == "mahalle" else "K-") for m in muhtarliks)


def test_every_parent_exists_and_comes_first(units: list[UnitRecord]) -> None:
    seen: dict[str, UnitRecord] = {}
    for u in units:
        if u.parent_code is not None:
            assert u.parent_code in seen, u.code
            parent = seen[u.parent_code]
            assert parent.kind == "valilik"
            assert parent.province_id == u.province_id
        seen[u.code] = u


def test_parents_by_kind(units: list[UnitRecord]) -> None:
    for u in units:
        has_parent = u.kind in ("il_mudurlugu", "il_ozel_idaresi", "kaymakamlik")
        assert (u.parent_code is not None) == has_parent, u.code


def test_every_muhtarlik_district_exists_in_its_province(
    source: RegistrySource, muhtarliks: list[MuhtarlikRecord]
) -> None:
    district_province = {d.id: d.province_id for d in source.districts}
    for m in muhtarliks:
        assert district_province[m.district_id] == m.province_id, m.code


def test_no_kaymakamlik_in_a_non_metropolitan_merkez(source: RegistrySource, units: list[UnitRecord]) -> None:
    centers = [d for d in source.districts if d.center]
    metropolitan = {p.id for p in source.provinces if p.metropolitan}
    assert len(centers) == 51
    assert all(d.name == "Merkez" and d.province_id not in metropolitan for d in centers)
    kaymakamlik_districts = {u.district_id for u in units if u.kind == "kaymakamlik"}
    assert not kaymakamlik_districts & {d.id for d in centers}
    assert len(kaymakamlik_districts) == 973 - 51


def test_il_ozel_idaresi_only_outside_metropolitan_provinces(
    source: RegistrySource, units: list[UnitRecord]
) -> None:
    metropolitan = {p.id for p in source.provinces if p.metropolitan}
    ioi = {u.province_id for u in units if u.kind == "il_ozel_idaresi"}
    bb = {u.province_id for u in units if u.belediye_kind == "buyuksehir"}
    assert bb == metropolitan
    assert ioi == {p.id for p in source.provinces} - metropolitan


@pytest.mark.parametrize(
    ("code", "name", "kind", "parent"),
    [
        ("MIGM", "Mahalli İdareler Genel Müdürlüğü", "migm", None),
        ("VAL-06", "Ankara Valiliği", "valilik", None),
        ("VAL-34", "İstanbul Valiliği", "valilik", None),
        ("ILM-06-saglik", "Ankara İl Sağlık Müdürlüğü", "il_mudurlugu", "VAL-06"),
        ("ILM-06-milli_egitim", "Ankara İl Millî Eğitim Müdürlüğü", "il_mudurlugu", "VAL-06"),
        ("ILM-14-jandarma", "Bolu İl Jandarma Komutanlığı", "il_mudurlugu", "VAL-14"),
        ("ILM-81-muftuluk", "Düzce İl Müftülüğü", "il_mudurlugu", "VAL-81"),
        ("IOI-14", "Bolu İl Özel İdaresi", "il_ozel_idaresi", "VAL-14"),
        ("BEL-BB-06", "Ankara Büyükşehir Belediyesi", "belediye", None),
        ("BEL-IL-14", "Bolu Belediyesi", "belediye", None),
    ],
)
def test_named_units(units: list[UnitRecord], code: str, name: str, kind: str, parent: str | None) -> None:
    by_code = {u.code: u for u in units}
    unit = by_code[code]
    assert (unit.name, unit.kind, unit.parent_code) == (name, kind, parent)


def test_cankaya_has_a_kaymakamlik_and_a_belediye(units: list[UnitRecord]) -> None:
    names = {u.name: u for u in units if u.province_id == 6}
    kay, bel = names["Çankaya Kaymakamlığı"], names["Çankaya Belediyesi"]
    assert kay.code == f"KAY-{kay.district_id}" and kay.parent_code == "VAL-06"
    assert bel.code == f"BEL-ILCE-{bel.district_id}" and bel.belediye_kind == "ilce"
    assert kay.district_id == bel.district_id


def test_no_ankara_il_ozel_idaresi_or_il_belediyesi(units: list[UnitRecord]) -> None:
    codes = {u.code for u in units}
    assert "IOI-06" not in codes and "BEL-IL-06" not in codes and "BEL-BB-14" not in codes


def test_names_are_clean(units: list[UnitRecord], muhtarliks: list[MuhtarlikRecord]) -> None:
    for name in [u.name for u in units] + [m.name for m in muhtarliks]:
        assert name == name.strip() and "  " not in name and "\u0307" not in name, name


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [
        ("Çaliş", "Çalış"),
        ("Köseceli\u0307", "Köseceli"),
        ("Pinarbaşi", "Pınarbaşı"),
        ("Deği\u0307rmenayvali", "Değirmenayvalı"),
        ("Yeşi\u0307lçi\u0307ftli\u0307k", "Yeşilçiftlik"),
        ("İnli\u0307ce", "İnlice"),
        ("Kömür", "Kömür"),
        ("Yeni\u0307  Köy", "Yeni Köy"),
    ],
)
def test_repair_of_the_source_belde_names(broken: str, repaired: str) -> None:
    assert repair_lowered_name(broken) == repaired


def test_a_belde_name_in_the_committed_data(units: list[UnitRecord]) -> None:
    assert "Çalış Belediyesi" in {u.name for u in units if u.belediye_kind == "belde"}


@pytest.fixture()
def registry_copy(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_REGISTRY_DIR, tmp_path / "registry")
    return tmp_path / "registry"


MUHTARLIK_HEADER = b"kind,id,province_id,district_id,name\n"
BROKEN_FILES = [
    ("missing provinces", PROVINCES_FILE, None),
    ("wrong header", PROVINCES_FILE, b"plate,name,metropolitan\n1,Adana,1\n"),
    ("short row", PROVINCES_FILE, b"id,name,metropolitan\n1,Adana\n"),
    ("non-numeric id", PROVINCES_FILE, b"id,name,metropolitan\nX,Adana,1\n"),
    ("not gzip", MUHTARLIKS_FILE, b"kind,id,province_id,district_id,name\n"),
    ("unknown kind", MUHTARLIKS_FILE, gzip.compress(MUHTARLIK_HEADER + b"site,1,1,1104,A\n")),
    ("unknown district", MUHTARLIKS_FILE, gzip.compress(MUHTARLIK_HEADER + b"koy,1,1,9,A\n")),
    ("bad toml", "il_mudurlukleri.toml", b"[[directorate]\n"),
    (
        "duplicate key",
        "il_mudurlukleri.toml",
        b'[[directorate]]\nkey="a"\nname="{il} A"\n[[directorate]]\nkey="a"\nname="{il} B"\n',
    ),
    ("pattern without {il}", "il_mudurlukleri.toml", b'[[directorate]]\nkey="a"\nname="A"\n'),
]


@pytest.mark.parametrize(("case", "file", "content"), BROKEN_FILES, ids=[c[0] for c in BROKEN_FILES])
def test_broken_registry_files_raise_a_clear_error(
    registry_copy: Path, case: str, file: str, content: bytes | None
) -> None:
    if content is None:
        (registry_copy / file).unlink()
    else:
        (registry_copy / file).write_bytes(content)
    with pytest.raises(RegistryDataError) as info:
        src = read_source(registry_copy)
        list(iter_units(src))
        list(iter_muhtarliks(src))
    assert file in str(info.value) or str(registry_copy) in str(info.value)
