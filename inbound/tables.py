"""Tables of the inbound area (migration 0004_inbound), on the shared ``metadata``.

* ``inbound_rate_counters`` — commands per phone per fixed window (the hourly limit).
* ``inbound_daily_marks`` — "already answered today" marks, e.g. the one reply an unregistered number
  gets per day (``day`` is the Europe/Istanbul calendar date).
* ``ussd_sessions`` — when each operator session was last heard from, for the 180-second expiry.

Rows are small and short-lived: each phone's old rows are removed when it starts a new window/day/session
(see ``inbound/limits.py``), and :func:`inbound.limits.purge` clears everything stale.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from workflow.adapters.orm import metadata, utc_datetime

inbound_rate_counters = Table(
    "inbound_rate_counters",
    metadata,
    Column("phone_e164", String(16), primary_key=True),
    Column("window_start", utc_datetime(), primary_key=True),
    Column("count", Integer, nullable=False),
    Index("ix_inbound_rate_counters_window_start", "window_start"),
)

inbound_daily_marks = Table(
    "inbound_daily_marks",
    metadata,
    Column("phone_e164", String(16), primary_key=True),
    Column("purpose", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("created_at", utc_datetime(), nullable=False),
    Index("ix_inbound_daily_marks_created_at", "created_at"),
)

ussd_sessions = Table(
    "ussd_sessions",
    metadata,
    Column("session_id", String(100), primary_key=True),
    Column("phone_e164", String(16), nullable=False),
    Column("started_at", utc_datetime(), nullable=False),
    Column("last_seen_at", utc_datetime(), nullable=False),
    Index("ix_ussd_sessions_last_seen_at", "last_seen_at"),
)
