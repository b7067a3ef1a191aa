"""Inboxes, views, search, counts, paging, due marks and preferences on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.world import World
from tests.staff.conftest import StepClock, assignment_id, file
from workflow.bootstrap import Services
from workflow.domain import commands as c
from workflow.domain.errors import NotAllowed
from workflow.service_layer import inbox, staff_preferences
from workflow.service_layer.inbox import DueStatus, ListQuery, Sort
from workflow.service_layer.staff_preferences import Preferences


async def numbers(services: Services, world: World, user: str, tab: str | None = None, **kw) -> list[int]:
    actor = await inbox.staff_viewer(services.engine, world.users[user])
    page = await inbox.inbox(services.engine, actor, ListQuery(tab=tab, **kw), services.clock(), 3)
    return [row.number for row in page.rows]


async def counts(services: Services, world: World, user: str) -> dict[str, int]:
    actor = await inbox.staff_viewer(services.engine, world.users[user])
    page = await inbox.inbox(services.engine, actor, ListQuery(), services.clock(), 3)
    return {t.key: t.count for t in page.tabs}


async def visible(services: Services, world: World, user: str, search: str = "", **kw) -> list[int]:
    actor = await inbox.staff_viewer(services.engine, world.users[user])
    page = await inbox.views(services.engine, actor, ListQuery(search=search, **kw), services.clock(), 3)
    assert page.total == len(page.rows) or page.page_size < page.total
    return [row.number for row in page.rows]


@pytest.fixture
async def scene(services: Services, world: World) -> dict[str, int]:
    """n1 routed to Ankara Valiliği + Çankaya Belediyesi, n2 to İzmir Valiliği, n3 and n4 untouched."""
    bus, u, units = services.commands, world.users, world.units
    n1 = await file(services, world)
    n2 = await file(
        services, world, "İzmir'deki köy yolunda büyük çukurlar oluştu, araçlar geçemiyor.", muhtar=1
    )
    n3 = await file(services, world)
    n4 = await file(services, world)
    await bus.handle(
        c.RouteRequest(u["migm"], n1, (c.Target(units["VAL-06"]), c.Target(units["BEL-ILCE-1231"])))
    )
    await bus.handle(c.RouteRequest(u["migm"], n2, (c.Target(units["VAL-35"]),)))
    return {"n1": n1, "n2": n2, "n3": n3, "n4": n4}


async def test_each_unit_sees_its_own_new_work(services: Services, world: World, scene: dict[str, int]):
    n1, n2, n3, n4 = scene["n1"], scene["n2"], scene["n3"], scene["n4"]
    assert await numbers(services, world, "migm", "yeni") == [n4, n3]
    assert await numbers(services, world, "migm", "birimlerde") == [n2, n1]
    assert await numbers(services, world, "ankara") == [n1]
    assert await numbers(services, world, "cankaya.bel") == [n1]
    assert await numbers(services, world, "izmir") == [n2]
    for user in ("saglik06", "cankaya.kay", "saglik35", "izmir.bb"):
        assert await numbers(services, world, user) == []
        assert await visible(services, world, user) == []


async def test_tabs_follow_the_life_cycle(services: Services, world: World, scene: dict[str, int]):
    bus, u, units, n1 = services.commands, world.users, world.units, scene["n1"]
    val = await assignment_id(services, n1, units["VAL-06"])
    await bus.handle(c.Forward(u["ankara"], n1, val, (c.Target(units["ILM-06-saglik"], "Bakınız."),)))
    assert await numbers(services, world, "ankara", "alt-birimlerde") == [n1]
    assert await numbers(services, world, "saglik06", "yeni") == [n1]

    bel = await assignment_id(services, n1, units["BEL-ILCE-1231"])
    await bus.handle(c.HandBack(u["cankaya.bel"], n1, bel, "Bizim görev alanımızda değil."))
    assert await numbers(services, world, "migm", "iade") == [n1]
    assert await numbers(services, world, "cankaya.bel", "iade-edilen") == [n1]
    assert await counts(services, world, "cankaya.bel") == {
        "yeni": 0,
        "islemde": 0,
        "alt-birimlerde": 0,
        "iade-edilen": 1,
        "tamamlanan": 0,
    }

    child = await assignment_id(services, n1, units["ILM-06-saglik"])
    await bus.handle(c.Complete(u["saglik06"], n1, child, "Yerinde incelendi."))
    await bus.handle(c.Complete(u["ankara"], n1, val, "Gereği yapıldı."))
    # Every unit finished, but the hand-back still waits for MİGM's review: it stays under İade.
    assert await numbers(services, world, "migm", "iade") == [n1]
    assert await numbers(services, world, "migm", "sonuclandirilacak") == []
    await bus.handle(c.ReviewHandback(u["migm"], n1, bel))
    assert await numbers(services, world, "migm", "iade") == []
    assert await numbers(services, world, "migm", "sonuclandirilacak") == [n1]
    assert await numbers(services, world, "ankara", "tamamlanan") == [n1]
    assert await numbers(services, world, "saglik06", "tamamlanan") == [n1]

    await bus.handle(c.Conclude(u["migm"], n1, "Talebiniz yerine getirildi."))
    assert await numbers(services, world, "migm", "tamamlanan") == [n1]
    assert await counts(services, world, "migm") == {
        "yeni": 2,
        "iade": 0,
        "sonuclandirilacak": 0,
        "birimlerde": 1,
        "tamamlanan": 1,
    }


async def test_views_show_what_the_unit_may_see(services: Services, world: World, scene: dict[str, int]):
    n1, n2, n3, n4 = scene["n1"], scene["n2"], scene["n3"], scene["n4"]
    assert await visible(services, world, "migm") == [n4, n3, n2, n1]
    assert await visible(services, world, "migm", sort=Sort.OLDEST) == [n1, n2, n3, n4]
    assert await visible(services, world, "izmir") == [n2]
    assert await visible(services, world, "ankara") == [n1]
    # A Belediye that handed back still sees what it worked on.
    bel = await assignment_id(services, n1, world.units["BEL-ILCE-1231"])
    await services.commands.handle(c.HandBack(world.users["cankaya.bel"], n1, bel, "Görev alanımız değil."))
    assert await visible(services, world, "cankaya.bel") == [n1]
    # Re-routed to the same Belediye: one row, the latest assignment.
    await services.commands.handle(
        c.RouteRequest(world.users["migm"], n1, (c.Target(world.units["BEL-ILCE-1231"]),))
    )
    assert await visible(services, world, "cankaya.bel") == [n1]


async def test_priority_sort_puts_the_urgent_first(services: Services, world: World, scene: dict[str, int]):
    await services.commands.handle(c.SetPriority(world.users["migm"], scene["n3"], "acil"))
    await services.commands.handle(c.SetPriority(world.users["migm"], scene["n4"], "dusuk"))
    assert await visible(services, world, "migm", sort=Sort.PRIORITY) == [
        scene["n3"],
        scene["n1"],
        scene["n2"],
        scene["n4"],
    ]


SEARCHES = (
    # (query, expected keys) — number, text, muhtar, muhtarlık, il/ilçe, case, nothing, wildcards
    ("{n2}", ["n2"]),
    ("#{n2}", ["n2"]),
    ("çukurlar", ["n2"]),
    ("ÖZTÜRK", ["n2"]),
    ("Mehmet", ["n2"]),
    ("kızılay", ["n4", "n3", "n2", "n1"]),
    ("Çankaya", ["n4", "n3", "n2", "n1"]),
    ("Ankara", ["n4", "n3", "n2", "n1"]),
    ("olmayan bir şey", []),
    ("%", []),
    ("_", []),
    ("   ", ["n4", "n3", "n2", "n1"]),
)


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
async def test_search(
    services: Services, world: World, scene: dict[str, int], query: str, expected: list[str]
):
    found = await visible(services, world, "migm", query.format(**scene))
    assert found == [scene[key] for key in expected]


async def test_search_never_widens_visibility(services: Services, world: World, scene: dict[str, int]):
    assert await visible(services, world, "izmir", str(scene["n1"])) == []
    assert await visible(services, world, "izmir", "Kızılay") == [scene["n2"]]


async def test_paging(services: Services, world: World, scene: dict[str, int]):
    actor = await inbox.staff_viewer(services.engine, world.users["migm"])
    pages = []
    for page in (1, 2, 3, 99):
        result = await inbox.views(
            services.engine, actor, ListQuery(page=page, page_size=2), services.clock(), 3
        )
        pages.append(([row.number for row in result.rows], result.page, result.pages, result.total))
    n1, n2, n3, n4 = scene["n1"], scene["n2"], scene["n3"], scene["n4"]
    assert pages == [([n4, n3], 1, 2, 4), ([n2, n1], 2, 2, 4), ([n2, n1], 2, 2, 4), ([n2, n1], 2, 2, 4)]


async def test_due_soon_and_overdue_are_marked(
    services: Services, world: World, scene: dict[str, int], clock: StepClock
):
    actor = await inbox.staff_viewer(services.engine, world.users["izmir"])
    marks = []
    for days in (0, 12, 3):  # 15 days to do it; "due soon" in the last 3
        clock.advance(days=days)
        page = await inbox.inbox(services.engine, actor, ListQuery(), clock(), 3)
        marks.append(page.rows[0].due_status)
    assert marks == [None, DueStatus.DUE_SOON, DueStatus.OVERDUE]
    migm = await inbox.staff_viewer(services.engine, world.users["migm"])
    page = await inbox.inbox(services.engine, migm, ListQuery(tab="birimlerde"), clock(), 3)
    assert [row.due_status for row in page.rows] == [DueStatus.OVERDUE, DueStatus.OVERDUE]
    assert page.rows[0].due_at is not None and page.rows[0].due_at - page.rows[0].created_at < timedelta(
        days=16
    )


async def test_unknown_tab_falls_back_to_the_first(services: Services, world: World, scene: dict[str, int]):
    assert await numbers(services, world, "ankara", "<script>") == [scene["n1"]]


async def test_unknown_or_disabled_user_is_refused(services: Services, engine: AsyncEngine):
    with pytest.raises(NotAllowed):
        await inbox.staff_viewer(engine, "0" * 32)


async def test_preferences_round_trip(services: Services, world: World):
    user, now = world.users["ankara"], services.clock()
    assert await staff_preferences.preferences(services.engine, user) == staff_preferences.DEFAULT_PREFERENCES
    mine = Preferences(columns=("kind", "date"), sort=Sort.PRIORITY, page_size=50)
    await staff_preferences.save_preferences(services.engine, user, mine, now)
    assert await staff_preferences.preferences(services.engine, user) == mine
    other = Preferences(columns=(), sort=Sort.OLDEST, page_size=10)
    await staff_preferences.save_preferences(services.engine, user, other, now)
    assert await staff_preferences.preferences(services.engine, user) == other


CLEANING = (
    # (columns, sort, page size) -> expected Preferences
    ((["kind", "kind", "bogus"], "oncelik", 50), Preferences(("kind",), Sort.PRIORITY, 50)),
    ((["date"], "drop table", 20), Preferences(("date",), Sort.NEWEST, 20)),
    ((["date"], "eski", 7), Preferences(("date",), Sort.OLDEST, 20)),
    ((["date"], "eski", -1), Preferences(("date",), Sort.OLDEST, 20)),
)


@pytest.mark.parametrize(("given", "expected"), CLEANING)
def test_clean_preferences(given, expected):
    assert staff_preferences.clean_preferences(*given) == expected


COUNT_TEXTS = ((0, "0"), (7, "7"), (999, "999"), (1000, "1.000+"), (12_345, "12.345+"))


@pytest.mark.parametrize(("n", "text"), COUNT_TEXTS)
def test_count_text(n: int, text: str):
    assert inbox.count_text(n) == text


async def test_counts_stop_at_the_cap(services: Services, world: World, scene: dict[str, int], monkeypatch):
    monkeypatch.setattr(inbox, "COUNT_CAP", 3)
    actor = await inbox.staff_viewer(services.engine, world.users["migm"])
    page = await inbox.views(services.engine, actor, ListQuery(page_size=2), services.clock(), 3)
    assert page.total == 3 and page.pages == 2
