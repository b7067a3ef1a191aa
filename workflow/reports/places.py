"""Province names for report labels (units carry only the plate code), from the project's registry data."""

from __future__ import annotations

from functools import lru_cache

from workflow.registry.data import read_source


@lru_cache(maxsize=1)
def province_names() -> dict[int, str]:
    return {p.id: p.name for p in read_source().provinces}


def province_label(province_id: int | None) -> str:
    if province_id is None:
        return "Merkez (MİGM)"
    return province_names().get(int(province_id), f"İl {province_id}")


@lru_cache(maxsize=1)
def district_names() -> dict[int, str]:
    return {d.id: d.name for d in read_source().districts}


def district_label(district_id: int | None) -> str:
    if district_id is None:
        return ""
    return district_names().get(int(district_id), f"İlçe {district_id}")
