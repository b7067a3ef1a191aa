"""Test helpers for the registry: a small copy of the registry (a few provinces) that loads in a blink."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from collections.abc import Callable, Collection
from pathlib import Path

from workflow.registry.data import (
    DEFAULT_REGISTRY_DIR,
    DISTRICTS_FILE,
    MUHTARLIKS_FILE,
    PROVINCES_FILE,
    TOWNS_FILE,
)


def filter_csv(path: Path, keep: Callable[[list[str]], bool]) -> None:
    """Keep the header and the rows for which keep(row) is true (gzip'd or plain CSV)."""
    is_gz = path.suffix == ".gz"
    text = gzip.decompress(path.read_bytes()).decode() if is_gz else path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([rows[0], *[r for r in rows[1:] if keep(r)]])
    data = out.getvalue().encode()
    path.write_bytes(gzip.compress(data) if is_gz else data)


def small_registry(dest: Path, provinces: Collection[int] = (6, 14)) -> Path:
    """A copy of config/registry/ with only ``provinces`` (default Ankara, metropolitan, and Bolu, not)."""
    keep = {str(p) for p in provinces}
    shutil.copytree(DEFAULT_REGISTRY_DIR, dest)
    filter_csv(dest / PROVINCES_FILE, lambda r: r[0] in keep)
    filter_csv(dest / DISTRICTS_FILE, lambda r: r[1] in keep)
    filter_csv(dest / TOWNS_FILE, lambda r: r[1] in keep)
    filter_csv(dest / MUHTARLIKS_FILE, lambda r: r[2] in keep)
    return dest
