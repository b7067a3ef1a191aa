"""Importing muhtars from CSV into SQLite and PostgreSQL, through the command function and the real CLI."""

from __future__ import annotations

import asyncio
import io
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.registry.helpers import small_registry
from workflow.adapters.orm import muhtarliks, muhtars
from workflow.registry import muhtar_import
from workflow.registry.commands import muhtar_import_command
from workflow.registry.load import load_registry
from workflow.registry.testdata import FakeMuhtar, make_muhtars, muhtars_csv, national_form

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def codes(engine: AsyncEngine, tmp_path: Path) -> list[str]:
    """Load Ankara and Bolu into the registry; return some muhtarlık codes (mahalle and köy)."""
    await load_registry(engine, directory=small_registry(tmp_path / "registry"))
    async with engine.connect() as conn:
        mahalle = (await conn.execute(select(muhtarliks.c.code).where(muhtarliks.c.kind == "mahalle")
                                      .order_by(muhtarliks.c.id).limit(40))).scalars().all()
        koy = (await conn.execute(select(muhtarliks.c.code).where(muhtarliks.c.kind == "koy")
                                  .order_by(muhtarliks.c.id).limit(10))).scalars().all()
    return [*mahalle, *koy]


def _people(codes: list[str], count: int, seed: int = 1) -> list[FakeMuhtar]:
    return list(make_muhtars(random.Random(seed), codes, count))


async def _run(engine: AsyncEngine, path: Path, now: datetime = T0) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await muhtar_import_command(engine, path, out, err, now)
    return code, out.getvalue(), err.getvalue()


async def _rows(engine: AsyncEngine) -> dict[str, dict[str, object]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(muhtars, muhtarliks.c.code.label("code")).join(muhtarliks, muhtars.c.muhtarlik_id == muhtarliks.c.id))
        return {r.tckn: dict(r._mapping) for r in result}


def _aware(value: object) -> datetime:
    """SQLite hands DateTime(timezone=True) back naive (stored as UTC); PostgreSQL hands it back aware."""
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _assert_no_personal_data(text: str, people: list[FakeMuhtar]) -> None:
    flat = text.replace(" ", "")
    for p in people:
        assert p.tckn not in flat
        assert p.phone_e164[3:] not in flat


async def test_bad_rows_are_reported_and_good_rows_imported(
    engine: AsyncEngine, codes: list[str], tmp_path: Path
) -> None:
    p = _people(codes, 12)
    bad_tckn = p[1].tckn[:-1] + str((int(p[1].tckn[-1]) + 1) % 10)
    lines = [
        "TC Kimlik No;Adı Soyadı;Cep Telefonu;Muhtarlık Kodu",  # 1
        f"{p[0].tckn};{p[0].full_name};{national_form(p[0].phone_e164)};{p[0].muhtarlik_code}",  # 2 good
        f"{bad_tckn};{p[1].full_name};{p[1].phone_e164};{p[1].muhtarlik_code}",  # 3
        f"{p[2].tckn};{p[2].full_name};0312 123 45 67;{p[2].muhtarlik_code}",  # 4
        f"{p[3].tckn};{p[3].full_name};{p[3].phone_e164};K-9999999",  # 5
        f"{p[4].tckn};{p[4].full_name};{p[4].phone_e164}",  # 6
        f"{p[5].tckn};{p[5].full_name};{p[5].phone_e164};{p[5].muhtarlik_code}",  # 7 dup TCKN
        f"{p[5].tckn};{p[6].full_name};{p[6].phone_e164};{p[6].muhtarlik_code}",  # 8 dup TCKN
        "",  # 9
        f"{p[7].tckn};;{p[7].phone_e164};{p[7].muhtarlik_code}",  # 10
        f"{p[8].tckn};{p[8].full_name};{p[8].phone_e164};{p[8].muhtarlik_code.lower()}",  # 11 good
    ]
    path = tmp_path / "muhtarlar.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())

    exit_code, out, err = await _run(engine, path)

    assert exit_code == 1
    assert [line.split(": ", 1)[1] for line in err.splitlines()] == [
        "line 3: invalid TC Kimlik No (check digits)",
        "line 4: invalid mobile phone (not a mobile number)",
        "line 5: unknown muhtarlık code K-9999999",
        "line 6: expected 4 columns, found 3",
        "line 7: duplicate TC Kimlik No (also on line 8)",
        "line 8: duplicate TC Kimlik No (also on line 7)",
        "line 10: name is empty",
    ]
    assert "9 rows: 2 new, 0 updated, 0 unchanged, 7 rejected" in out
    _assert_no_personal_data(out + err, [*p, FakeMuhtar(bad_tckn, "", "+900000000000", "")])
    rows = await _rows(engine)
    assert set(rows) == {p[0].tckn, p[8].tckn}
    assert rows[p[0].tckn]["phone_e164"] == p[0].phone_e164
    assert rows[p[8].tckn]["code"] == p[8].muhtarlik_code
    assert rows[p[0].tckn]["active"] is True and rows[p[0].tckn]["created_at"] is not None


async def test_clean_file_exits_0_and_reimport_changes_nothing(
    engine: AsyncEngine, codes: list[str], tmp_path: Path
) -> None:
    people = _people(codes, 50)
    path = tmp_path / "m.csv"
    path.write_text(muhtars_csv(people), encoding="utf-8")

    assert (await _run(engine, path))[0] == 0
    first = await _rows(engine)
    exit_code, out, err = await _run(engine, path, T0 + timedelta(days=1))
    assert (exit_code, err) == (0, "")
    assert "50 rows: 0 new, 0 updated, 50 unchanged, 0 rejected; 0 previous muhtars deactivated" in out
    assert await _rows(engine) == first


async def test_upsert_by_tckn_keeps_id_and_created_at(engine: AsyncEngine, codes: list[str], tmp_path: Path) -> None:
    person = _people(codes, 1)[0]
    path = tmp_path / "m.csv"
    path.write_text(muhtars_csv([person]), encoding="utf-8")
    await _run(engine, path)
    before = (await _rows(engine))[person.tckn]

    moved = FakeMuhtar(person.tckn, "Yeni Ad Soyad", "+905559876543", codes[-1])
    path.write_text(muhtars_csv([moved]), encoding="utf-8")
    exit_code, out, _ = await _run(engine, path, T0 + timedelta(hours=2))

    after = (await _rows(engine))[person.tckn]
    assert exit_code == 0 and "0 new, 1 updated" in out
    assert (after["id"], after["created_at"]) == (before["id"], before["created_at"])
    assert (after["full_name"], after["phone_e164"], after["code"]) == ("Yeni Ad Soyad", "+905559876543", codes[-1])
    assert _aware(after["updated_at"]) == T0 + timedelta(hours=2)


async def test_a_new_muhtar_of_a_muhtarlik_deactivates_the_previous_one(
    engine: AsyncEngine, codes: list[str], tmp_path: Path
) -> None:
    old, new = _people(codes[:1], 2)
    path = tmp_path / "m.csv"
    path.write_text(muhtars_csv([old]), encoding="utf-8")
    await _run(engine, path)
    path.write_text(muhtars_csv([new]), encoding="utf-8")

    exit_code, out, _ = await _run(engine, path)

    rows = await _rows(engine)
    assert exit_code == 0 and "1 previous muhtars deactivated" in out
    assert (rows[old.tckn]["active"], rows[new.tckn]["active"]) == (False, True)
    assert rows[old.tckn]["code"] == rows[new.tckn]["code"] == codes[0]


async def test_a_phone_of_another_active_muhtar_is_refused(
    engine: AsyncEngine, codes: list[str], tmp_path: Path
) -> None:
    first, second = _people(codes, 2)
    path = tmp_path / "m.csv"
    path.write_text(muhtars_csv([first]), encoding="utf-8")
    await _run(engine, path)
    same_phone = FakeMuhtar(second.tckn, second.full_name, first.phone_e164, second.muhtarlik_code)
    path.write_text(muhtars_csv([same_phone]), encoding="utf-8")

    exit_code, _, err = await _run(engine, path)

    assert exit_code == 1
    assert err.endswith("line 2: mobile phone already registered to another active muhtar\n")
    assert set(await _rows(engine)) == {first.tckn}


async def test_a_failure_while_writing_leaves_nothing_written(
    engine: AsyncEngine, codes: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.csv"
    path.write_text(muhtars_csv(_people(codes, 50)), encoding="utf-8")
    real = muhtar_import._executemany

    async def write_then_fail(conn, stmt, params):  # type: ignore[no-untyped-def]
        await real(conn, stmt, params)  # the real batched writes (3 batches of 20 rows), then a crash
        if params:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(muhtar_import, "BATCH", 20)
    monkeypatch.setattr(muhtar_import, "_executemany", write_then_fail)

    exit_code, _, err = await _run(engine, path)

    assert exit_code == 3 and "nothing was written" in err
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(muhtars)) == 0


async def test_before_the_registry_is_loaded_every_row_says_so(engine: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(muhtars_csv(_people(["M-1", "K-2"], 2)), encoding="utf-8")
    exit_code, _, err = await _run(engine, path)
    assert exit_code == 1
    assert err.splitlines() == [
        f"{path}: line {n}: unknown muhtarlık code {code} (the registry is empty: run muhtar registry load first)"
        for n, code in ((2, "M-1"), (3, "K-2"))]
    assert await _rows(engine) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the file"),
        (b"", "the file is empty"),
        ("tckn,name,phone,muhtarlik\n10000000146,Şükrü Işık,05321234567,M-1\n".encode("cp1254"), "not UTF-8"),
        (b"tckn,name,telefon\n10000000146,Ali,05321234567\n", "missing: muhtarlik"),
    ],
)
async def test_an_unreadable_file_exits_2_and_writes_nothing(
    engine: AsyncEngine, codes: list[str], tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "m.csv"
    if content is not None:
        path.write_bytes(content)
    exit_code, out, err = await _run(engine, path)
    assert (exit_code, out) == (2, "")
    assert message in err and "10000000146" not in err
    assert await _rows(engine) == {}


async def _cli(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "MUHTAR_DATABASE_URL": database_url, "MUHTAR_LOGGING_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workflow.entrypoints.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_registry_load_then_muhtars_import(database_url: str, tmp_path: Path) -> None:
    code, out, err = await _cli(database_url, "registry", "load")
    assert code == 0, err
    assert "units: 4068 new" in out and "muhtarliks: 50369 new" in out
    assert "50369/50369" in err and "#" * 30 in err  # the progress bar reached the end

    people = _people(["M-1", "K-675", "M-248"], 3)
    good = tmp_path / "ok.csv"
    good.write_text(muhtars_csv(people, delimiter=";"), encoding="utf-8")
    assert await _cli(database_url, "muhtars", "import", str(good)) == (
        0, "muhtar import: 3 rows: 3 new, 0 updated, 0 unchanged, 0 rejected; 0 previous muhtars deactivated\n", "")

    bad = tmp_path / "bad.csv"
    bad.write_text(muhtars_csv(people) + "12345678901,Ali Veli,05321234567,M-2\n", encoding="utf-8")
    code, out, err = await _cli(database_url, "muhtars", "import", str(bad))
    assert code == 1
    assert err == f"{bad}: line 5: invalid TC Kimlik No (check digits)\n"
    assert "4 rows: 0 new, 0 updated, 3 unchanged, 1 rejected" in out

    code, out, err = await _cli(database_url, "muhtars", "import", str(tmp_path / "missing.csv"))
    assert (code, out) == (2, "") and "cannot read the file" in err

    again = await _cli(database_url, "registry", "load")
    assert again[0] == 0 and "units: 0 new, 0 updated, 4068 unchanged" in again[1]
