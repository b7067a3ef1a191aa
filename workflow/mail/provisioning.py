"""Issuing addresses to muhtars and reading them back for the mail server's provisioning.

``assign_addresses`` runs in one transaction: it first records addresses that muhtars already hold in the
mail domain (so those are never issued again), retires addresses whose muhtar left office or changed
address, then gives every active muhtar without an address one (``addresses.py``), oldest record first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from workflow.adapters.orm import muhtarliks, muhtars
from workflow.mail.addresses import assign_all, split_name, turkish_title
from workflow.mail.tables import mail_addresses

logger = logging.getLogger(__name__)

KIND_TITLES = {"mahalle": "{name} Mahallesi Muhtarı", "koy": "{name} Köyü Muhtarı"}


@dataclass
class AssignReport:
    assigned: list[tuple[str, str]] = field(default_factory=list)  # (muhtar id, address)
    no_address: list[str] = field(default_factory=list)  # muhtar ids whose name gives no address
    adopted: int = 0
    retired: int = 0


def _local_part(address: str, domain: str) -> str | None:
    local, at, host = address.strip().lower().rpartition("@")
    return local if at and local and host == domain.lower() else None


async def _lock(conn: AsyncConnection) -> None:
    # Two runs at once would race for the same numbers; PostgreSQL queues the second here.
    # (SQLite transactions already start with BEGIN IMMEDIATE, one writer at a time.)
    if conn.dialect.name == "postgresql":
        await conn.execute(text("LOCK TABLE mail_addresses IN EXCLUSIVE MODE"))


async def _adopt_existing(conn: AsyncConnection, domain: str, now: datetime) -> int:
    issued = {
        str(r.local_part): str(r.muhtar_id)
        for r in await conn.execute(select(mail_addresses.c.local_part, mail_addresses.c.muhtar_id))
    }
    rows = (
        await conn.execute(select(muhtars.c.id, muhtars.c.email).where(muhtars.c.email.is_not(None)))
    ).all()
    adopted = 0
    for muhtar_id, email in rows:
        local = _local_part(email, domain)
        if local is None:
            continue
        address = f"{local}@{domain}"
        if email != address:  # one spelling, so comparisons with mail_addresses hold
            await conn.execute(
                update(muhtars).where(muhtars.c.id == muhtar_id).values(email=address, updated_at=now)
            )
        if local in issued:
            if issued[local] != muhtar_id:
                logger.warning("muhtar %s holds an address issued before to another muhtar", muhtar_id)
            continue
        await conn.execute(
            mail_addresses.insert().values(
                local_part=local, address=address, muhtar_id=muhtar_id, issued_at=now
            )
        )
        issued[local] = muhtar_id
        adopted += 1
    return adopted


async def _retire_left(conn: AsyncConnection, now: datetime) -> int:
    holder = select(muhtars.c.id).where(
        muhtars.c.id == mail_addresses.c.muhtar_id,
        muhtars.c.active.is_(True),
        muhtars.c.email == mail_addresses.c.address,
    )
    result = await conn.execute(
        update(mail_addresses)
        .where(mail_addresses.c.retired_at.is_(None), ~holder.exists())
        .values(retired_at=now)
    )
    return int(result.rowcount or 0)


async def assign_addresses(conn: AsyncConnection, domain: str, now: datetime | None = None) -> AssignReport:
    """Adopt, retire and issue (see the module doc) on ``conn``; the caller commits."""
    now = now or datetime.now(UTC)
    domain = domain.lower()
    report = AssignReport()
    await _lock(conn)
    report.adopted = await _adopt_existing(conn, domain, now)
    report.retired = await _retire_left(conn, now)
    issued = list((await conn.execute(select(mail_addresses.c.local_part))).scalars())
    waiting = (
        await conn.execute(
            select(muhtars.c.id, muhtars.c.full_name)
            .where(muhtars.c.email.is_(None), muhtars.c.active.is_(True))
            .order_by(muhtars.c.created_at, muhtars.c.id)
        )
    ).all()
    chosen = assign_all([(str(r.id), str(r.full_name)) for r in waiting], issued)
    for muhtar_id, _name in waiting:
        local = chosen.get(muhtar_id)
        if local is None:
            report.no_address.append(muhtar_id)
            logger.warning("muhtar %s: the name gives no e-mail address; none assigned", muhtar_id)
            continue
        address = f"{local}@{domain}"
        await conn.execute(
            mail_addresses.insert().values(
                local_part=local, address=address, muhtar_id=muhtar_id, issued_at=now
            )
        )
        await conn.execute(
            update(muhtars).where(muhtars.c.id == muhtar_id).values(email=address, updated_at=now)
        )
        report.assigned.append((muhtar_id, address))
    return report


@dataclass(frozen=True)
class DirectoryEntry:
    """One mailbox to provision, with names in proper Turkish case."""

    address: str
    local_part: str
    display_name: str
    given_name: str
    surname: str
    title: str
    district: str
    province: str
    issued_at: datetime


async def current_addresses(conn: AsyncConnection, since: datetime | None = None) -> Sequence[DirectoryEntry]:
    """Addresses held now by active muhtars (issued at or after ``since`` if given), by address."""
    query = (
        select(
            mail_addresses.c.address,
            mail_addresses.c.local_part,
            mail_addresses.c.issued_at,
            muhtars.c.full_name,
            muhtarliks.c.kind,
            muhtarliks.c.name.label("muhtarlik"),
            muhtarliks.c.district_name,
            muhtarliks.c.province_name,
        )
        .join(muhtars, muhtars.c.id == mail_addresses.c.muhtar_id)
        .join(muhtarliks, muhtarliks.c.id == muhtars.c.muhtarlik_id)
        .where(
            mail_addresses.c.retired_at.is_(None),
            muhtars.c.active.is_(True),
            muhtars.c.email == mail_addresses.c.address,
        )
        .order_by(mail_addresses.c.address)
    )
    if since is not None:
        query = query.where(mail_addresses.c.issued_at >= since)
    entries = []
    for row in (await conn.execute(query)).all():
        given, surname = split_name(row.full_name)
        template = KIND_TITLES.get(row.kind, "{name} Muhtarı")
        entries.append(
            DirectoryEntry(
                address=row.address,
                local_part=row.local_part,
                display_name=turkish_title(row.full_name),
                given_name=given,
                surname=surname,
                # Registry names are already in proper case ("100.Yıl"); title-casing would spoil them.
                title=template.format(name=row.muhtarlik),
                district=row.district_name,
                province=row.province_name,
                issued_at=_aware(row.issued_at),
            )
        )
    return entries


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
