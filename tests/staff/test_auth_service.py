"""Staff log-in and administration in the service layer: waits, logs, ended sessions, audit rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import PASSWORD, World
from tests.staff.conftest import StepClock
from workflow.domain.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from workflow.domain.units import StaffRole
from workflow.service_layer import staff_admin, staff_auth
from workflow.service_layer.staff_auth import Result, lock_delay
from workflow.service_layer.staff_tables import admin_audit_log, staff_login_log
from workflow.staff_accounts import NewStaffUser

ADDR = "203.0.113.7"


async def login_log(engine: AsyncEngine) -> list[tuple[str | None, str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(staff_login_log).order_by(staff_login_log.c.id))
        return [(r.user_id, r.result, r.source_addr) for r in rows]


DELAYS = ((1, 0), (4, 0), (5, 30), (6, 60), (7, 120), (9, 480), (20, 1800), (100, 1800))


@pytest.mark.parametrize(("failures", "seconds"), DELAYS)
def test_lock_delay_grows_after_five_failures(failures: int, seconds: int):
    assert lock_delay(failures) == timedelta(seconds=seconds)


async def test_success_and_every_failure_are_logged(engine: AsyncEngine, world: World, clock: StepClock):
    ok = await staff_auth.authenticate(engine, " ANKARA ", PASSWORD, ADDR, clock())
    wrong = await staff_auth.authenticate(engine, "ankara", "yanlış.parola.1", ADDR, clock())
    unknown = await staff_auth.authenticate(engine, "kimse", PASSWORD, None, clock())
    assert (ok.result, ok.user_id) == (Result.OK, world.users["ankara"])
    assert (wrong.result, unknown.result) == (Result.WRONG_PASSWORD, Result.UNKNOWN_USER)
    assert await login_log(engine) == [
        (world.users["ankara"], "ok", ADDR),
        (world.users["ankara"], "wrong_password", ADDR),
        (None, "unknown_user", None),
    ]
    assert staff_auth.refusal_text(wrong) == staff_auth.refusal_text(unknown)


async def test_five_failures_make_the_account_wait(engine: AsyncEngine, world: World, clock: StepClock):
    results = [
        (await staff_auth.authenticate(engine, "izmir", f"yanlis.{i}.parola", ADDR, clock())).result
        for i in range(5)
    ]
    assert results == [Result.WRONG_PASSWORD] * 4 + [Result.LOCKED_OUT]
    # Even the right password is not checked while the account waits.
    locked = await staff_auth.authenticate(engine, "izmir", PASSWORD, ADDR, clock())
    assert locked.result is Result.LOCKED and locked.retry_at is not None
    assert "beklemeye" in staff_auth.refusal_text(locked)
    clock.advance(seconds=31)
    again = await staff_auth.authenticate(engine, "izmir", "yanlis.6.parola", ADDR, clock())
    assert again.result is Result.LOCKED_OUT and again.retry_at == clock.now + timedelta(seconds=60)
    clock.advance(seconds=61)
    assert (await staff_auth.authenticate(engine, "izmir", PASSWORD, ADDR, clock())).ok
    # Success starts the count again.
    assert (await staff_auth.authenticate(engine, "izmir", "yanlis.7.parola", ADDR, clock())).result is (
        Result.WRONG_PASSWORD
    )


async def test_disabled_account_cannot_sign_in_and_its_sessions_end(
    engine: AsyncEngine, world: World, clock: StepClock
):
    signed_in = clock()
    assert await staff_auth.session_valid(engine, world.users["izmir"], signed_in)
    admin = await staff_admin.admin_for(engine, world.users["admin"])
    await staff_admin.set_account_active(engine, admin, world.users["izmir"], False, clock(), ADDR)
    assert not await staff_auth.session_valid(engine, world.users["izmir"], signed_in)
    outcome = await staff_auth.authenticate(engine, "izmir", PASSWORD, ADDR, clock())
    assert outcome.result is Result.DISABLED
    assert staff_auth.refusal_text(outcome) == staff_auth.GENERIC_FAILURE


async def test_password_reset_and_unit_change_end_sessions(
    engine: AsyncEngine, world: World, clock: StepClock
):
    admin = await staff_admin.admin_for(engine, world.users["admin"])
    before = clock()
    await staff_admin.reset_password(engine, admin, world.users["ankara"], "Yeni.Parola.42", clock(), ADDR)
    assert not await staff_auth.session_valid(engine, world.users["ankara"], before)
    assert (await staff_auth.authenticate(engine, "ankara", "Yeni.Parola.42", ADDR, clock())).ok
    assert not (await staff_auth.authenticate(engine, "ankara", PASSWORD, ADDR, clock())).ok
    after = clock()
    assert await staff_auth.session_valid(engine, world.users["ankara"], after)
    await staff_admin.change_unit(
        engine, admin, world.users["ankara"], world.units["VAL-35"], StaffRole.CLERK, clock(), ADDR
    )
    assert not await staff_auth.session_valid(engine, world.users["ankara"], after)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(admin_audit_log).order_by(admin_audit_log.c.id))).all()
    assert [r.action for r in rows] == ["password_reset", "unit_changed"]
    assert all("Parola" not in r.detail for r in rows)


async def test_create_account_checks_its_input(engine: AsyncEngine, world: World, clock: StepClock):
    admin = await staff_admin.admin_for(engine, world.users["admin"])
    unit = world.units["VAL-06"]

    def new(username: str = "yeni.kisi", password: str = "Guclu.Parola.9", name: str = "Yeni Kişi"):
        return NewStaffUser(username, name, "", StaffRole.CLERK, password)

    user_id = await staff_admin.create_account(engine, admin, new(), unit, clock(), ADDR)
    assert (await staff_auth.authenticate(engine, "yeni.kisi", "Guclu.Parola.9", ADDR, clock())).ok
    for bad, error in (
        (new("ankara"), InvalidState),
        (new("şükrü"), ValidationFailed),
        (new("a b"), ValidationFailed),
        (new("x"), ValidationFailed),
        (new(password="kisa1"), ValidationFailed),
        (new(password="sadeceharfler"), ValidationFailed),
        (new(name=" "), ValidationFailed),
    ):
        with pytest.raises(error):
            await staff_admin.create_account(engine, admin, bad, unit, clock(), ADDR)
    assert (await staff_admin.account(engine, admin, user_id)).unit.id == unit


async def test_only_administrators_administer(engine: AsyncEngine, world: World, clock: StepClock):
    with pytest.raises(NotAllowed):
        await staff_admin.admin_for(engine, world.users["migm"])
    admin = await staff_admin.admin_for(engine, world.users["admin"])
    with pytest.raises(NotAllowed):
        await staff_admin.set_account_active(engine, admin, world.users["admin"], False, clock(), ADDR)
    with pytest.raises(NotFound):
        await staff_admin.account(engine, admin, "f" * 32)


async def test_unit_registry_changes_are_audited(engine: AsyncEngine, world: World, clock: StepClock):
    admin = await staff_admin.admin_for(engine, world.users["admin"])
    await staff_admin.rename_unit(
        engine, admin, world.units["KAY-1231"], "  Çankaya   Kaymakamlığı (yeni) ", clock(), ADDR
    )
    await staff_admin.set_unit_active(engine, admin, world.units["KAY-1231"], False, clock(), ADDR)
    found = await staff_admin.find_units(engine, "kaymakamlığı (yeni)")
    assert [(x.name, x.active) for x in found] == [("Çankaya Kaymakamlığı (yeni)", False)]
    with pytest.raises(ValidationFailed):
        await staff_admin.rename_unit(engine, admin, world.units["KAY-1231"], "x", clock(), ADDR)
    with pytest.raises(NotAllowed):
        await staff_admin.set_unit_active(engine, admin, world.units["MIGM"], False, clock(), ADDR)
    entries = await staff_admin.audit_entries(engine)
    assert [e.action for e in entries] == ["unit_deactivated", "unit_renamed"]
