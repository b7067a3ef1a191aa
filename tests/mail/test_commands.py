"""`muhtar mail addresses` and `muhtar mail export` through the CLI table, on a migrated SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from tests.mail.conftest import add_muhtar, add_muhtarliks
from tests.mail.ldif_parser import parse_ldif
from workflow.adapters.db import create_engine
from workflow.adapters.orm import staff_users, units
from workflow.entrypoints.cli import main


@pytest.fixture
async def seeded(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    engine = create_engine(sqlite_database_url)
    try:
        m = await add_muhtarliks(engine)
        await add_muhtar(engine, "Hatice Kübra Yıldız", m["M-1"], order=1)
        await add_muhtar(engine, "HATİCE YILDIZ", m["M-2"], order=2)
    finally:
        await engine.dispose()
    monkeypatch.setenv("MUHTAR_DATABASE_URL", sqlite_database_url)
    return sqlite_database_url


def test_addresses_then_ldif_and_csv_export(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mail", "addresses"]) == 0
    assert "2 addresses assigned" in capsys.readouterr().err
    assert main(["mail", "export", "--format", "ldif"]) == 0
    records = parse_ldif(capsys.readouterr().out)
    assert [r["mail"] for r in records] == [["hatice.yildiz2@muhtar.gov.tr"], ["hatice.yildiz@muhtar.gov.tr"]]
    assert records[1]["cn"] == ["Hatice Kübra Yıldız"]
    target = tmp_path / "out.csv"
    assert main(["mail", "export", "--format", "csv", "--since", "01.01.2020", "--output", str(target)]) == 0
    assert (
        target.read_text(encoding="utf-8")
        .splitlines()[2]
        .startswith("hatice.yildiz@muhtar.gov.tr,Hatice Kübra")
    )


@pytest.mark.parametrize("since", ["2026-13-01", "yesterday", "25/11/2026", ""])
def test_a_bad_date_is_refused_with_usage(
    seeded: str, since: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mail", "export", "--format", "csv", "--since", since]) == 2
    assert "is not a date" in capsys.readouterr().err


def test_a_format_is_required(seeded: str) -> None:
    assert main(["mail", "export"]) == 2


def test_digest_on_and_off(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def add_user() -> None:
        engine = create_engine(seeded)
        try:
            async with engine.begin() as conn:
                unit = await conn.execute(
                    insert(units).values(
                        code="MIGM", kind="migm", name="Mahalli İdareler Genel Müdürlüğü", active=True
                    )
                )
                now = datetime.now(UTC)
                await conn.execute(
                    insert(staff_users).values(
                        id="u1",
                        username="migm",
                        password_hash="x",
                        full_name="Deniz Ak",
                        unit_id=unit.inserted_primary_key[0],
                        role="clerk",
                        active=True,
                        created_at=now,
                        updated_at=now,
                        password_changed_at=now,
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(add_user())
    assert main(["mail", "digest", "migm", "--off"]) == 2  # no address to subscribe with yet
    assert main(["mail", "digest", "migm", "--email", "deniz.ak@example.gov.tr"]) == 0
    assert "digest for migm: on, daily at 07:00" in capsys.readouterr().err
    assert main(["mail", "digest", "migm", "--off"]) == 0
    assert main(["mail", "digest", "nobody", "--email", "a@example.gov.tr"]) == 2
    assert "no staff user named 'nobody'" in capsys.readouterr().err
    assert main(["mail", "digest", "migm", "--email", "not an address"]) == 2


def test_preferences_show_and_change(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mail", "addresses"]) == 0
    capsys.readouterr()
    assert main(["mail", "preferences", "hatice.yildiz@muhtar.gov.tr"]) == 0
    assert "request_received=on, request_concluded=on, routing_steps=off" in capsys.readouterr().err
    assert (
        main(["mail", "preferences", "HATICE.YILDIZ@muhtar.gov.tr", "--steps", "on", "--received", "off"])
        == 0
    )
    assert "request_received=off, request_concluded=on, routing_steps=on" in capsys.readouterr().err
    assert main(["mail", "preferences", "hatice.yildiz@muhtar.gov.tr"]) == 0
    assert "request_received=off, request_concluded=on, routing_steps=on" in capsys.readouterr().err
    assert main(["mail", "preferences", "kimse@muhtar.gov.tr"]) == 2
    assert main(["mail", "preferences", "hatice.yildiz@muhtar.gov.tr", "--steps", "maybe"]) == 2
