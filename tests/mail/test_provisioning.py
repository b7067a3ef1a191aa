"""Issuing addresses on the real databases, and the CSV/LDIF exports (LDIF read back by a strict parser)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.mail.conftest import add_muhtar, add_muhtarliks
from tests.mail.ldif_parser import parse_ldif
from workflow.adapters.orm import muhtars
from workflow.mail.export import to_csv, to_ldif
from workflow.mail.provisioning import assign_addresses, current_addresses
from workflow.mail.tables import mail_addresses

DOMAIN = "muhtar.gov.tr"


async def _assign(engine: AsyncEngine, now: datetime | None = None):  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        return await assign_addresses(conn, DOMAIN, now)


async def _email(engine: AsyncEngine, muhtar_id: str) -> str | None:
    async with engine.connect() as conn:
        return (await conn.execute(select(muhtars.c.email).where(muhtars.c.id == muhtar_id))).scalar_one()


async def test_namesakes_across_provinces_get_numbers_in_registration_order(engine: AsyncEngine) -> None:
    m = await add_muhtarliks(engine)
    # Inserted out of order: created_at (order=) decides, not insertion.
    van = await add_muhtar(engine, "AYŞE YILMAZ", m["M-4"], order=3)
    ankara = await add_muhtar(engine, "Ayşe Yılmaz", m["M-1"], order=1)
    izmir = await add_muhtar(engine, "Ayşe Nur Yılmaz", m["M-2"], order=2)
    ismail = await add_muhtar(engine, "İsmail Çağrı Öztürk", m["K-3"], order=4)
    report = await _assign(engine)
    assert len(report.assigned) == 4 and report.no_address == []
    assert await _email(engine, ankara) == "ayse.yilmaz@muhtar.gov.tr"
    assert await _email(engine, izmir) == "ayse.yilmaz2@muhtar.gov.tr"
    assert await _email(engine, van) == "ayse.yilmaz3@muhtar.gov.tr"
    assert await _email(engine, ismail) == "ismail.ozturk@muhtar.gov.tr"
    # A second run has nothing to do and changes nothing.
    again = await _assign(engine)
    assert again.assigned == [] and again.retired == 0


async def test_an_address_is_never_reused_after_its_muhtar_leaves(engine: AsyncEngine) -> None:
    m = await add_muhtarliks(engine)
    old = await add_muhtar(engine, "Mehmet Öztürk", m["M-1"], order=1)
    await _assign(engine)
    async with engine.begin() as conn:
        await conn.execute(update(muhtars).where(muhtars.c.id == old).values(active=False))
    successor = await add_muhtar(engine, "Mehmet Öztürk", m["M-1"], order=2)
    report = await _assign(engine)
    assert report.retired == 1
    assert await _email(engine, successor) == "mehmet.ozturk2@muhtar.gov.tr"
    async with engine.connect() as conn:
        rows = (await conn.execute(select(mail_addresses).order_by(mail_addresses.c.local_part))).all()
    assert [(r.local_part, r.retired_at is not None) for r in rows] == [
        ("mehmet.ozturk", True),
        ("mehmet.ozturk2", False),
    ]


async def test_existing_addresses_are_recorded_and_avoided(engine: AsyncEngine) -> None:
    m = await add_muhtarliks(engine)
    holder = await add_muhtar(engine, "Zeynep Kaya", m["M-1"], order=1, email="Zeynep.Kaya@MUHTAR.gov.tr")
    await add_muhtar(engine, "Ali Veli", m["M-1"], order=2, email="ali@example.org")  # other domain: kept
    newcomer = await add_muhtar(engine, "Zeynep Kaya", m["M-2"], order=3)
    nameless = await add_muhtar(engine, "...", m["M-2"], order=4)
    report = await _assign(engine)
    assert report.adopted == 1
    assert report.no_address == [nameless]
    assert await _email(engine, newcomer) == "zeynep.kaya2@muhtar.gov.tr"
    assert await _email(engine, nameless) is None
    assert await _email(engine, holder) == "zeynep.kaya@muhtar.gov.tr"  # one spelling
    again = await _assign(engine)
    assert (again.adopted, again.retired, again.assigned) == (0, 0, [])  # the adopted address stays current


async def test_exports_list_current_holders_with_turkish_display_names(engine: AsyncEngine) -> None:
    m = await add_muhtarliks(engine)
    await add_muhtar(engine, "AYŞE GÜL ŞAHİN-YILMAZ", m["M-4"], order=1)
    await _assign(engine, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    await add_muhtar(engine, "ismail çağrı öztürk", m["K-3"], order=2)
    await _assign(engine, datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    left = await add_muhtar(engine, "Işıl Irmak", m["M-2"], order=3)
    await _assign(engine, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    async with engine.begin() as conn:
        await conn.execute(update(muhtars).where(muhtars.c.id == left).values(active=False))
    async with engine.connect() as conn:
        everyone = await current_addresses(conn)
        recent = await current_addresses(conn, datetime(2026, 11, 10, tzinfo=UTC))
    assert [e.address for e in everyone] == ["ayse.sahin-yilmaz@muhtar.gov.tr", "ismail.ozturk@muhtar.gov.tr"]
    assert [e.address for e in recent] == ["ismail.ozturk@muhtar.gov.tr"]

    rows = list(csv.DictReader(io.StringIO(to_csv(everyone))))
    assert rows[0] == {
        "address": "ayse.sahin-yilmaz@muhtar.gov.tr",
        "display_name": "Ayşe Gül Şahin-Yılmaz",
        "given_name": "Ayşe Gül",
        "surname": "Şahin-Yılmaz",
        "title": "Işıklar Mahallesi Muhtarı",
        "district": "İpekyolu",
        "province": "Van",
        "issued_at": "2026-11-02T08:00:00+00:00",
    }
    assert rows[1]["display_name"] == "İsmail Çağrı Öztürk"
    assert rows[1]["title"] == "İğdecik Köyü Muhtarı"

    records = parse_ldif(to_ldif(everyone, DOMAIN))
    assert records[1] == {
        "dn": ["uid=ismail.ozturk,ou=muhtarlar,dc=muhtar,dc=gov,dc=tr"],
        "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
        "uid": ["ismail.ozturk"],
        "mail": ["ismail.ozturk@muhtar.gov.tr"],
        "cn": ["İsmail Çağrı Öztürk"],
        "displayName": ["İsmail Çağrı Öztürk"],
        "givenName": ["İsmail Çağrı"],
        "sn": ["Öztürk"],
        "title": ["İğdecik Köyü Muhtarı"],
        "l": ["Milas"],
        "st": ["Muğla"],
    }
    assert records[0]["cn"] == ["Ayşe Gül Şahin-Yılmaz"]


async def test_registry_names_keep_their_case_in_titles(engine: AsyncEngine) -> None:
    m = await add_muhtarliks(engine)
    await add_muhtar(engine, "DENİZ AK", m["M-5"], order=1)
    await _assign(engine)
    async with engine.connect() as conn:
        [entry] = await current_addresses(conn)
    assert (entry.display_name, entry.title) == ("Deniz Ak", "100.Yıl Mahallesi Muhtarı")


def test_long_values_are_folded_and_read_back() -> None:
    from workflow.mail.provisioning import DirectoryEntry

    name = "Abdurrahman Şerafettin Muhammed Kemalettin Gülbahar Karaosmanoğlu-Çağlayangil"
    entry = DirectoryEntry(
        address="abdurrahman.karaosmanoglu-caglayangil@muhtar.gov.tr",
        local_part="abdurrahman.karaosmanoglu-caglayangil",
        display_name=name,
        given_name=name.rsplit(" ", 1)[0],
        surname="Karaosmanoğlu-Çağlayangil",
        title="Şehitler Mahallesi Muhtarı",
        district="Çankaya",
        province="Ankara",
        issued_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    text = to_ldif([entry], DOMAIN)
    assert max(len(line) for line in text.splitlines()) <= 76
    assert any(line.startswith(" ") for line in text.splitlines())
    assert parse_ldif(text)[0]["cn"] == [name]
