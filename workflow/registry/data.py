"""Read the compact registry under config/registry/ and derive every unit and muhtarlık from it.

Pure and stdlib-only: no database, no network. Codes and names follow docs/architecture.md:

- ``MIGM`` (Mahalli İdareler Genel Müdürlüğü)
- ``VAL-06`` Valilik of each province (two-digit plate code)
- ``ILM-06-<key>`` the standard İl Müdürlükleri (``il_mudurlukleri.toml``) under each Valilik
- ``IOI-05`` İl Özel İdaresi, only in the 51 non-metropolitan provinces (Law 6360)
- ``KAY-<districtId>`` Kaymakamlık of every district except the merkez ilçe of a non-metropolitan province
  (the vali runs that one)
- ``BEL-BB-06`` büyükşehir, ``BEL-IL-05`` il, ``BEL-ILCE-<districtId>`` ilçe, ``BEL-BELDE-<townId>`` belde
- muhtarlık ``M-<neighborhoodId>`` (mahalle) and ``K-<villageId>`` (köy); the two id spaces overlap in the
  source, hence the prefixes.
"""

from __future__ import annotations

import csv
import gzip
import io
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DEFAULT_REGISTRY_DIR = Path(__file__).resolve().parents[2] / "config" / "registry"
PROVINCES_FILE = "provinces.csv"
DISTRICTS_FILE = "districts.csv"
TOWNS_FILE = "towns.csv"
MUHTARLIKS_FILE = "muhtarliks.csv.gz"
DIRECTORATES_FILE = "il_mudurlukleri.toml"

UnitKind = Literal["migm", "valilik", "il_mudurlugu", "il_ozel_idaresi", "kaymakamlik", "belediye"]
BelediyeKind = Literal["buyuksehir", "il", "ilce", "belde"]
MuhtarlikKind = Literal["mahalle", "koy"]

MIGM_CODE = "MIGM"
MIGM_NAME = "Mahalli İdareler Genel Müdürlüğü"


class RegistryDataError(Exception):
    """A registry file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class UnitRecord:
    code: str
    kind: UnitKind
    belediye_kind: BelediyeKind | None
    name: str
    parent_code: str | None
    province_id: int | None
    district_id: int | None


@dataclass(frozen=True, slots=True)
class MuhtarlikRecord:
    code: str
    kind: MuhtarlikKind
    name: str
    province_id: int
    district_id: int
    province_name: str
    district_name: str


@dataclass(frozen=True, slots=True)
class Province:
    id: int
    name: str
    metropolitan: bool


@dataclass(frozen=True, slots=True)
class District:
    id: int
    province_id: int
    name: str
    center: bool  # the merkez ilçe of a non-metropolitan province: no Kaymakamlık


@dataclass(frozen=True, slots=True)
class Town:
    id: int
    province_id: int
    district_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Directorate:
    key: str
    name_pattern: str  # "{il} İl Sağlık Müdürlüğü"
    ministry: str

    def name_for(self, province_name: str) -> str:
        return self.name_pattern.replace("{il}", province_name)


@dataclass(frozen=True, slots=True)
class RegistrySource:
    provinces: tuple[Province, ...]
    districts: tuple[District, ...]
    towns: tuple[Town, ...]
    directorates: tuple[Directorate, ...]
    directory: Path


def valilik_code(province_id: int) -> str:
    return f"VAL-{province_id:02d}"


def _rows(text: str, path: Path, header: tuple[str, ...]) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text))
    first = next(reader, None)
    if first is None or tuple(first) != header:
        raise RegistryDataError(f"{path}: expected header {','.join(header)}")
    for row in reader:
        if len(row) != len(header):
            raise RegistryDataError(f"{path}:{reader.line_num}: expected {len(header)} columns")
        yield row


def _read_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            return gzip.decompress(path.read_bytes()).decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise RegistryDataError(f"cannot read {path}: {exc}") from exc


def _read_csv(path: Path, header: tuple[str, ...]) -> list[list[str]]:
    try:
        return list(_rows(_read_text(path), path, header))
    except ValueError as exc:
        raise RegistryDataError(f"{path}: {exc}") from exc


def read_directorates(directory: Path) -> tuple[Directorate, ...]:
    path = directory / DIRECTORATES_FILE
    try:
        data = tomllib.loads(_read_text(path))
        items = tuple(Directorate(d["key"], d["name"], d.get("ministry", ""))
                      for d in data["directorate"])
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise RegistryDataError(f"{path}: {exc!r}") from exc
    keys = [d.key for d in items]
    if len(set(keys)) != len(keys) or not all("{il}" in d.name_pattern for d in items):
        raise RegistryDataError(f"{path}: keys must be unique and every name must contain {{il}}")
    return items


def read_source(directory: Path = DEFAULT_REGISTRY_DIR) -> RegistrySource:
    """Read every registry file; raises RegistryDataError on a missing or malformed one."""
    try:
        provinces = tuple(Province(int(i), n, m == "1") for i, n, m in
                          _read_csv(directory / PROVINCES_FILE, ("id", "name", "metropolitan")))
        districts = tuple(District(int(i), int(p), n, c == "1") for i, p, n, c in
                          _read_csv(directory / DISTRICTS_FILE, ("id", "province_id", "name", "center")))
        towns = tuple(Town(int(i), int(p), int(d), n) for i, p, d, n in
                      _read_csv(directory / TOWNS_FILE, ("id", "province_id", "district_id", "name")))
    except ValueError as exc:
        raise RegistryDataError(f"{directory}: non-numeric id ({exc})") from exc
    return RegistrySource(provinces, districts, towns, read_directorates(directory), directory)


def _province_units(p: Province, src: RegistrySource) -> Iterator[UnitRecord]:
    val = valilik_code(p.id)
    for directorate in src.directorates:
        yield UnitRecord(f"ILM-{p.id:02d}-{directorate.key}", "il_mudurlugu", None,
                         directorate.name_for(p.name), val, p.id, None)
    if not p.metropolitan:
        yield UnitRecord(f"IOI-{p.id:02d}", "il_ozel_idaresi", None, f"{p.name} İl Özel İdaresi",
                         val, p.id, None)
    districts = [d for d in src.districts if d.province_id == p.id]
    for d in districts:
        if not d.center:
            yield UnitRecord(f"KAY-{d.id}", "kaymakamlik", None, f"{d.name} Kaymakamlığı", val, p.id, d.id)
    if p.metropolitan:
        yield UnitRecord(f"BEL-BB-{p.id:02d}", "belediye", "buyuksehir", f"{p.name} Büyükşehir Belediyesi",
                         None, p.id, None)
    for d in districts:
        if d.center:
            # The il belediyesi serves the merkez ilçe; district_id links it there for routing.
            yield UnitRecord(f"BEL-IL-{p.id:02d}", "belediye", "il", f"{p.name} Belediyesi", None, p.id, d.id)
        else:
            yield UnitRecord(f"BEL-ILCE-{d.id}", "belediye", "ilce", f"{d.name} Belediyesi", None, p.id, d.id)
    for t in src.towns:
        if t.province_id == p.id:
            yield UnitRecord(f"BEL-BELDE-{t.id}", "belediye", "belde", f"{t.name} Belediyesi",
                             None, p.id, t.district_id)


def iter_units(src: RegistrySource) -> Iterator[UnitRecord]:
    """Every unit, parents before children (MİGM, all Valilikler, then each province's units)."""
    yield UnitRecord(MIGM_CODE, "migm", None, MIGM_NAME, None, None, None)
    for p in src.provinces:
        yield UnitRecord(valilik_code(p.id), "valilik", None, f"{p.name} Valiliği", None, p.id, None)
    for p in src.provinces:
        yield from _province_units(p, src)


def iter_muhtarliks(src: RegistrySource) -> Iterator[MuhtarlikRecord]:
    """Every muhtarlık: each mahalle (``M-<id>``) and köy (``K-<id>``)."""
    provinces = {p.id: p.name for p in src.provinces}
    districts = {d.id: d.name for d in src.districts}
    path = src.directory / MUHTARLIKS_FILE
    header = ("kind", "id", "province_id", "district_id", "name")
    for kind, ident, prov, dist, name in _read_csv(path, header):
        if kind not in ("mahalle", "koy"):
            raise RegistryDataError(f"{path}: unknown muhtarlık kind {kind!r}")
        try:
            province_id, district_id = int(prov), int(dist)
            yield MuhtarlikRecord(
                f"{'M' if kind == 'mahalle' else 'K'}-{int(ident)}",
                "mahalle" if kind == "mahalle" else "koy",
                name, province_id, district_id, provinces[province_id], districts[district_id])
        except (ValueError, KeyError) as exc:
            raise RegistryDataError(f"{path}: bad row for {kind} {ident}: {exc!r}") from exc
