"""Tables of the staff side (migration 0006_staff); they share ``workflow.adapters.orm.metadata``.

No password, TCKN or request text is ever written here.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, false, null

from workflow.adapters.orm import BigId, assignments, metadata, requests, utc_datetime

# MİGM's inbox tabs are (migm_pending, state) pairs listed newest first: one index range each, for the
# list and for its (capped) count. Created by 0006_staff; declared here so the table knows it.
Index("ix_requests_pending_state_created", requests.c.migm_pending, requests.c.state, requests.c.created_at)
# Hand-backs MİGM has not reviewed yet: few at any time, found without reading 2.5 M assignments.
_UNREVIEWED = (
    assignments.c.parent_id.is_(null())
    & (assignments.c.state == "handed_back")
    & (assignments.c.handback_reviewed == false())
)
Index(
    "ix_assignments_unreviewed_handbacks",
    assignments.c.request_id,
    postgresql_where=_UNREVIEWED,
    sqlite_where=_UNREVIEWED,
)

# One row per staff user who changed a setting; absent row = defaults (see staff_preferences.DEFAULT_PREFERENCES).
staff_preferences = Table(
    "staff_preferences",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("columns", Text, nullable=False),  # JSON list of column keys, in display order
    Column("sort", String(20), nullable=False),
    Column("page_size", Integer, nullable=False),
    Column("updated_at", utc_datetime(), nullable=False),
)

# Failed log-ins in a row and the wait they earned; ``sessions_valid_from`` ends every session started
# before it (password reset, role or unit change, account disabled).
staff_auth_state = Table(
    "staff_auth_state",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", utc_datetime(), nullable=True),
    Column("sessions_valid_from", utc_datetime(), nullable=True),
    Column("updated_at", utc_datetime(), nullable=False),
)

# Every log-in attempt: who (the account, when the name matched one), when, from where, what came of it.
# The typed name of an unknown account is not kept: people type passwords into the name field.
staff_login_log = Table(
    "staff_login_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", utc_datetime(), nullable=False),
    Column("user_id", String(32), nullable=True),
    Column("source_addr", String(64), nullable=True),
    # ok | wrong_password | unknown_user | disabled | locked | locked_out | logout
    Column("result", String(20), nullable=False),
    Index("ix_staff_login_log_user_at", "user_id", "at"),
    Index("ix_staff_login_log_at", "at"),
)

# Every change an administrator makes to accounts or the unit registry.
admin_audit_log = Table(
    "admin_audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", utc_datetime(), nullable=False),
    Column("admin_id", String(32), nullable=False),
    Column("action", String(30), nullable=False),  # user_created | user_disabled | password_reset | …
    Column("target_kind", String(10), nullable=False),  # user | unit
    Column("target_id", String(32), nullable=False),
    Column("detail", Text, nullable=False),  # JSON: what changed (never a password)
    Column("source_addr", String(64), nullable=True),
    Index("ix_admin_audit_log_at", "at"),
    Index("ix_admin_audit_log_target", "target_kind", "target_id"),
)
