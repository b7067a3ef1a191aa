"""Report tables and indexes on the shared metadata (created by migrations 0008_reports and
0010_report_summaries; the migrations hold the triggers and the dialects' generated-column expressions).

``report_requests`` holds one narrow row per request with what the request-level reports read — filing
time, kind, channel, muhtar-facing state, the muhtarlık's province and district at filing, the first
routing, the last unit completion and the conclusion — so those reports scan one small table instead of
joining requests, muhtars, muhtarlıks and grouping millions of assignments. Database triggers (defined in
the migration, for PostgreSQL and SQLite) keep it in step with every insert and update of ``requests`` and
``assignments``, whichever code path writes them; no application code has to remember it.

Durations are kept in whole seconds where the percentiles read them: three generated columns of
``report_requests`` (the database derives them from the row's times) and ``report_work``, one narrow row per
completed assignment kept by triggers. Their ``(group, seconds)`` indexes hand each province's or unit's
durations to the median/p90 already in order, so a page reads narrow index entries instead of sorting
millions of joined rows. Results are exact (nearest rank) to the second.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Column, Computed, ForeignKey, Index, Integer, SmallInteger, String, Table

from workflow.adapters.orm import assignments, metadata, requests, utc_datetime

report_requests = Table(
    "report_requests",
    metadata,
    Column("request_id", String(32), ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", utc_datetime(), nullable=False),
    # The Istanbul calendar day of filing (YYYY-MM-DD): period reports group on it without time zone sums.
    Column("local_day", String(10), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("state", String(20), nullable=False),
    Column("province_id", SmallInteger, nullable=True),
    Column("district_id", Integer, nullable=True),
    Column("first_routed_at", utc_datetime(), nullable=True),
    Column("last_completed_at", utc_datetime(), nullable=True),
    Column("concluded_at", utc_datetime(), nullable=True),
    # Whole seconds of each request-level step (generated; the SQLite migration spells them with julianday).
    Column("triage_seconds", Integer, Computed("CAST(EXTRACT(EPOCH FROM (first_routed_at - created_at)) AS integer)")),
    Column("closing_seconds", Integer,
           Computed("CAST(EXTRACT(EPOCH FROM (concluded_at - last_completed_at)) AS integer)")),
    Column("whole_seconds", Integer, Computed("CAST(EXTRACT(EPOCH FROM (concluded_at - created_at)) AS integer)")),
    # 0012_report_keyed_counts: kind, state and channel as one number (generated; KCS_* below).
    Column("kcs", SmallInteger, nullable=True),
    Index("ix_report_requests_created", "created_at"),
    Index("ix_report_requests_province_created", "province_id", "created_at"),
    Index("ix_report_requests_province_triage", "province_id", "triage_seconds",
          postgresql_include=["kcs"]),
    Index("ix_report_requests_province_closing", "province_id", "closing_seconds",
          postgresql_include=["kcs"]),
    Index("ix_report_requests_province_whole", "province_id", "whole_seconds",
          postgresql_include=["kcs"]),
)

#: One row per completed assignment: who did the work, the request's filing time, and how long it took.
report_work = Table(
    "report_work",
    metadata,
    Column("assignment_id", String(32), ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True),
    Column("request_id", String(32), nullable=False),
    Column("unit_id", Integer, nullable=False),
    Column("unit_province_id", SmallInteger, nullable=True),
    Column("request_created_at", utc_datetime(), nullable=False),
    Column("seconds", Integer, nullable=False),  # assignment → completion
    # 0012_report_keyed_counts: the request's kind, state and channel as one number (KCS_*), kept by triggers.
    Column("request_kcs", SmallInteger, nullable=True),
    Index("ix_report_work_unit_seconds", "unit_id", "seconds",
          postgresql_include=["request_kcs"]),
    Index("ix_report_work_province_seconds", "unit_province_id", "seconds",
          postgresql_include=["request_kcs"]),
    # 0011_report_counts: a date range's unit work from the index alone. 0012_report_keyed_counts: on
    # PostgreSQL the (group, seconds) indexes also carry the filter columns (INCLUDE), so filtered
    # percentiles stay index-only scans in value order.
    Index("ix_report_work_created_unit", "request_created_at", "unit_id", "unit_province_id", "seconds",
          postgresql_include=["request_kcs"]),
    Index("ix_report_work_request", "request_id"),
)

# Requests by filing time (date ranges); open assignments by due date (overdue counts, on-time rate);
# completed assignments per unit with their times (per-unit duration percentiles read only the index).
REPORT_INDEXES = (
    Index("ix_requests_created_at", requests.c.created_at),
    Index("ix_assignments_state_due", assignments.c.state, assignments.c.due_at),
    Index(
        "ix_assignments_state_unit_times",
        assignments.c.state,
        assignments.c.unit_id,
        assignments.c.assigned_at,
        assignments.c.completed_at,
    ),
    # A unit's requests read from the index alone: report scopes and per-unit request counts.
    Index("ix_assignments_unit_request", assignments.c.unit_id, assignments.c.request_id),
    # Assignments are made after filing: a date range's lower bound narrows them before any join.
    Index("ix_assignments_assigned_at", assignments.c.assigned_at),
)


def _counts_table(name: str, keys: tuple[tuple[str, Any], ...], counts: tuple[str, ...], delta: bool) -> Table:
    columns = [Column(k, type_, primary_key=not delta, autoincrement=False, nullable=False) for k, type_ in keys]
    return Table(name, metadata, *columns, *(Column(c, Integer, nullable=False) for c in counts))


# Trigger-kept counts (0011_report_counts): each table with ``<name>_delta``, the changes not yet folded in
# (PostgreSQL only; on SQLite the triggers add to the counts at once). Readers add both.
VOLUME_DAY_KEYS: Final = (("local_day", String(10)), ("kind", String(20)), ("state", String(20)),
                          ("channel", String(10)))
VOLUME_PLACE_KEYS: Final = (("month", String(7)), ("province_id", Integer), ("district_id", Integer))
UNIT_COUNT_KEYS: Final = (("unit_id", Integer), ("month", String(7)))
UNIT_COUNTS: Final = ("requests", "total", "back", "on_time", "late_done", "open")
volume_days = _counts_table("report_volume_days", VOLUME_DAY_KEYS, ("n",), False)
volume_days_delta = _counts_table("report_volume_days_delta", VOLUME_DAY_KEYS, ("n",), True)
volume_places = _counts_table("report_volume_places", VOLUME_PLACE_KEYS, ("n",), False)
volume_places_delta = _counts_table("report_volume_places_delta", VOLUME_PLACE_KEYS, ("n",), True)
unit_counts = _counts_table("report_unit_counts", UNIT_COUNT_KEYS, UNIT_COUNTS, False)
unit_counts_delta = _counts_table("report_unit_counts_delta", UNIT_COUNT_KEYS, UNIT_COUNTS, True)
# The same per Istanbul day, for the days of a range that do not fill a month.
PLACE_DAY_KEYS: Final = (("local_day", String(10)), ("province_id", Integer), ("district_id", Integer))
UNIT_DAY_KEYS: Final = (("local_day", String(10)), ("unit_id", Integer))
place_days = _counts_table("report_volume_place_days", PLACE_DAY_KEYS, ("n",), False)
place_days_delta = _counts_table("report_volume_place_days_delta", PLACE_DAY_KEYS, ("n",), True)
unit_days = _counts_table("report_unit_days", UNIT_DAY_KEYS, UNIT_COUNTS, False)
unit_days_delta = _counts_table("report_unit_days_delta", UNIT_DAY_KEYS, UNIT_COUNTS, True)
WORK_DAY_KEYS: Final = (("unit_id", Integer), ("work_day", Integer))
work_days = _counts_table("report_work_days", WORK_DAY_KEYS, ("n",), False)
work_days_delta = _counts_table("report_work_days_delta", WORK_DAY_KEYS, ("n",), True)
# 0012_report_keyed_counts: the place and unit counts and the histogram also per the request's kind, muhtar-
# facing state and channel (only the keys that occur), for pages filtered by those.
KCS_KEYS: Final = (("kind", String(20)), ("state", String(20)), ("channel", String(10)))
PLACE_KEYED_KEYS: Final = (*VOLUME_PLACE_KEYS, *KCS_KEYS)
PLACE_DAY_KEYED_KEYS: Final = (*PLACE_DAY_KEYS, *KCS_KEYS)
UNIT_KEYED_KEYS: Final = (*UNIT_COUNT_KEYS, *KCS_KEYS)
UNIT_DAY_KEYED_KEYS: Final = (*UNIT_DAY_KEYS, *KCS_KEYS)
WORK_DAY_KEYED_KEYS: Final = (*WORK_DAY_KEYS, *KCS_KEYS)
places_keyed = _counts_table("report_volume_places_keyed", PLACE_KEYED_KEYS, ("n",), False)
places_keyed_delta = _counts_table("report_volume_places_keyed_delta", PLACE_KEYED_KEYS, ("n",), True)
place_days_keyed = _counts_table("report_volume_place_days_keyed", PLACE_DAY_KEYED_KEYS, ("n",), False)
place_days_keyed_delta = _counts_table("report_volume_place_days_keyed_delta", PLACE_DAY_KEYED_KEYS, ("n",), True)
unit_counts_keyed = _counts_table("report_unit_counts_keyed", UNIT_KEYED_KEYS, UNIT_COUNTS, False)
unit_counts_keyed_delta = _counts_table("report_unit_counts_keyed_delta", UNIT_KEYED_KEYS, UNIT_COUNTS, True)
unit_days_keyed = _counts_table("report_unit_days_keyed", UNIT_DAY_KEYED_KEYS, UNIT_COUNTS, False)
unit_days_keyed_delta = _counts_table("report_unit_days_keyed_delta", UNIT_DAY_KEYED_KEYS, UNIT_COUNTS, True)
work_days_keyed = _counts_table("report_work_days_keyed", WORK_DAY_KEYED_KEYS, ("n",), False)
work_days_keyed_delta = _counts_table("report_work_days_keyed_delta", WORK_DAY_KEYED_KEYS, ("n",), True)
WORK_PROVINCE_DAY_KEYED_KEYS: Final = (("unit_province_id", Integer), ("work_day", Integer), *KCS_KEYS)
work_province_days_keyed = _counts_table("report_work_province_days_keyed", WORK_PROVINCE_DAY_KEYED_KEYS, ("n",),
                                         False)
work_province_days_keyed_delta = _counts_table("report_work_province_days_keyed_delta",
                                               WORK_PROVINCE_DAY_KEYED_KEYS, ("n",), True)
#: The order kind, state and channel values take in ``kcs`` = (kind · 3 + state) · 3 + channel (as in
#: 0012_report_keyed_counts, which computes it in SQL; tests check the two agree and cover the vocabulary).
KCS_KINDS: Final = ("sikayet", "istek", "ihbar", "gorus_oneri")
KCS_STATES: Final = ("bekleyen", "yonlendirilen", "sonuclanan")
KCS_CHANNELS: Final = ("web", "sms", "ussd")


def _names(keys: tuple[tuple[str, Any], ...]) -> tuple[str, ...]:
    return tuple(k for k, _ in keys)


#: (counts table, its delta table, key columns, count columns)
COUNT_TABLES: Final = (
    (volume_days, volume_days_delta, tuple(k for k, _ in VOLUME_DAY_KEYS), ("n",)),
    (volume_places, volume_places_delta, tuple(k for k, _ in VOLUME_PLACE_KEYS), ("n",)),
    (place_days, place_days_delta, tuple(k for k, _ in PLACE_DAY_KEYS), ("n",)),
    (unit_counts, unit_counts_delta, tuple(k for k, _ in UNIT_COUNT_KEYS), UNIT_COUNTS),
    (unit_days, unit_days_delta, tuple(k for k, _ in UNIT_DAY_KEYS), UNIT_COUNTS),
    (work_days, work_days_delta, tuple(k for k, _ in WORK_DAY_KEYS), ("n",)),
    (places_keyed, places_keyed_delta, _names(PLACE_KEYED_KEYS), ("n",)),
    (place_days_keyed, place_days_keyed_delta, _names(PLACE_DAY_KEYED_KEYS), ("n",)),
    (unit_counts_keyed, unit_counts_keyed_delta, _names(UNIT_KEYED_KEYS), UNIT_COUNTS),
    (unit_days_keyed, unit_days_keyed_delta, _names(UNIT_DAY_KEYED_KEYS), UNIT_COUNTS),
    (work_days_keyed, work_days_keyed_delta, _names(WORK_DAY_KEYED_KEYS), ("n",)),
    (work_province_days_keyed, work_province_days_keyed_delta, _names(WORK_PROVINCE_DAY_KEYED_KEYS), ("n",)),
)
#: Month table → the day table that answers the days of a range outside whole months.
DAY_TABLE: Final = {volume_places: place_days, unit_counts: unit_days, places_keyed: place_days_keyed,
                    unit_counts_keyed: unit_days_keyed}

#: One row per open assignment (new, in progress, forwarded) with its request's filing time (0011).
report_open = Table(
    "report_open",
    metadata,
    Column("assignment_id", String(32), ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", Integer, nullable=False),
    Column("request_created_at", utc_datetime(), nullable=False),
    Column("assigned_at", utc_datetime(), nullable=False),
    Column("due_at", utc_datetime(), nullable=False),
    Column("request_kcs", SmallInteger, nullable=True),  # 0012, as on report_work
    Index("ix_report_open_assigned", "assigned_at"),
    Index("ix_report_open_due", "due_at"),
)
