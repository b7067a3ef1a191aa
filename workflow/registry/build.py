"""Build the project's compact registry files under config/registry/ from the turkiye-api JSON dump.

Run: ``python -m workflow.registry.build /path/to/data/turkiye [--out config/registry]``

Only facts the system needs are kept (ids, names, province/district links, kinds); population, areas,
coordinates and postal codes are dropped. The output is deterministic (sorted rows, gzip without a
timestamp), so re-running on the same input produces byte-identical files and a clean ``git diff``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from workflow.registry.data import (
    DEFAULT_REGISTRY_DIR,
    DISTRICTS_FILE,
    MUHTARLIKS_FILE,
    PROVINCES_FILE,
    TOWNS_FILE,
)

log = logging.getLogger(__name__)

Row = Sequence[str | int]
_SPACES = re.compile(r"\s+")


class SourceError(Exception):
    """The source data is missing, malformed or inconsistent."""


def clean_name(name: str) -> str:
    """Collapse runs of whitespace; the source has a few double spaces."""
    return _SPACES.sub(" ", name).strip()


def repair_lowered_name(name: str) -> str:
    """Undo a non-Turkish lower-casing of an upper-case Turkish name.

    towns.json was produced by lower-casing "ÇALIŞ" / "KÖSECELİ" with a locale-blind ``str.lower``:
    'I' became 'i' (should be 'ı') and 'İ' became 'i' + U+0307 (should be 'i'). Each word's first
    letter kept its case, so only the rest of each word is repaired.
    """
    words = []
    for word in clean_name(name).split(" "):
        rest = word[1:].replace("i\u0307", "\0").replace("i", "ı").replace("\0", "i")
        words.append(word[:1] + rest)
    return " ".join(words)


def _read_json(source: Path, name: str) -> list[dict[str, Any]]:
    path = source / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list")
    return data


def province_rows(provinces: list[dict[str, Any]]) -> list[Row]:
    rows: list[Row] = [(p["id"], clean_name(p["name"]), int(bool(p["isMetropolitan"]))) for p in provinces]
    rows.sort(key=lambda r: r[0])
    if [r[0] for r in rows] != list(range(1, 82)):
        raise SourceError("provinces.json: expected plate codes 1..81 exactly once")
    return rows


def district_rows(districts: list[dict[str, Any]], municipalities: list[dict[str, Any]]) -> list[Row]:
    """Districts with a ``center`` flag: the merkez ilçe of a non-metropolitan province (no kaymakam).

    The flag comes from municipalities.json (type province_center sits in exactly those districts), and
    is cross-checked against the district's name "Merkez".
    """
    centers = {m["districtId"] for m in municipalities if m["type"] == "province_center"}
    rows: list[Row] = []
    for d in districts:
        is_center = d["id"] in centers
        if is_center != (d["name"] == "Merkez"):
            raise SourceError(f"district {d['id']}: centre flag disagrees with its name {d['name']!r}")
        rows.append((d["id"], d["provinceId"], clean_name(d["name"]), int(is_center)))
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


def town_rows(towns: list[dict[str, Any]]) -> list[Row]:
    """Belde municipalities from towns.json (390, as of the 2024 election), names repaired.

    (municipalities.json is not used for names: two of its town ids name a different belde.)
    """
    rows: list[Row] = [(t["id"], t["provinceId"], t["districtId"], repair_lowered_name(t["name"]))
                       for t in towns]
    rows.sort(key=lambda r: (r[1], r[2], r[0]))
    return rows


def muhtarlik_rows(neighborhoods: list[dict[str, Any]], villages: list[dict[str, Any]]) -> list[Row]:
    rows: list[Row] = [("mahalle", n["id"], n["provinceId"], n["districtId"], clean_name(n["name"]))
                       for n in neighborhoods]
    rows += [("koy", v["id"], v["provinceId"], v["districtId"], clean_name(v["name"])) for v in villages]
    rows.sort(key=lambda r: (r[2], r[3], r[0], r[1]))
    return rows


def check_links(districts: list[Row], towns: list[Row], muhtarliks: list[Row]) -> None:
    """Every town and muhtarlık points at an existing district of the same province."""
    province_of = {int(d[0]): int(d[1]) for d in districts}
    for kind, rows, prov_col, dist_col in (("town", towns, 1, 2), ("muhtarlik", muhtarliks, 2, 3)):
        for row in rows:
            if province_of.get(int(row[dist_col])) != int(row[prov_col]):
                raise SourceError(f"{kind} {row}: district is unknown or in another province")


def _csv_text(header: Row, rows: Iterable[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_registry(source: Path, out: Path) -> dict[str, int]:
    """Convert the source directory into ``out``; returns row counts per file."""
    municipalities = _read_json(source, "municipalities.json")
    provinces = province_rows(_read_json(source, "provinces.json"))
    districts = district_rows(_read_json(source, "districts.json"), municipalities)
    towns = town_rows(_read_json(source, "towns.json"))
    muhtarliks = muhtarlik_rows(_read_json(source, "neighborhoods.json"), _read_json(source, "villages.json"))
    check_links(districts, towns, muhtarliks)

    out.mkdir(parents=True, exist_ok=True)
    (out / PROVINCES_FILE).write_text(_csv_text(("id", "name", "metropolitan"), provinces), encoding="utf-8")
    (out / DISTRICTS_FILE).write_text(
        _csv_text(("id", "province_id", "name", "center"), districts), encoding="utf-8")
    (out / TOWNS_FILE).write_text(
        _csv_text(("id", "province_id", "district_id", "name"), towns), encoding="utf-8")
    text = _csv_text(("kind", "id", "province_id", "district_id", "name"), muhtarliks)
    # mtime=0 and no file name keep the archive byte-identical between runs.
    with open(out / MUHTARLIKS_FILE, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return {PROVINCES_FILE: len(provinces), DISTRICTS_FILE: len(districts),
            TOWNS_FILE: len(towns), MUHTARLIKS_FILE: len(muhtarliks)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="directory holding the turkiye-api JSON files")
    parser.add_argument("--out", type=Path, default=DEFAULT_REGISTRY_DIR, help="output directory")
    args = parser.parse_args(argv)
    try:
        counts = write_registry(args.source, args.out)
    except SourceError as exc:
        print(f"registry build failed: {exc}", file=sys.stderr)
        return 2
    for name, count in counts.items():
        print(f"{args.out / name}: {count} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
