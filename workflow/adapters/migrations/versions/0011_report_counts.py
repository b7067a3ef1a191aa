"""report counts: trigger-kept counts for the volume and bottleneck pages.

- ``report_volume_days``: requests per Istanbul filing day × kind × muhtar-facing state × channel;
- ``report_volume_places`` / ``report_volume_place_days``: requests per filing month (YYYY-MM) / day ×
  province × district (0 for none);
- ``report_unit_counts`` / ``report_unit_days``: per unit × the requests' filing month / day: requests routed
  to it (distinct), its assignments, handed back, completed on time, completed late and still open.
  A date range reads whole months from the month tables and the days at its ends from the day tables.
- ``report_work_days``: completed assignments per unit × whole days of work (a histogram of 0010's
  report_work): the units with the longest median are found from it, then their exact percentiles are read
  from a few index entries (workflow/reports/bottlenecks.py).
- ``report_open``: one row per open assignment with its request's filing time (like 0010's report_work).
- ``report_work``'s filing-time index also holds unit, province and seconds (date ranges read the index only).
Nothing here changes with the clock; age buckets and overdue counts are derived at query time from the open
count and the few open assignments that are young or not yet due (see workflow/reports/bottlenecks.py).

Triggers on ``report_requests`` (itself kept by 0008's triggers) and on ``assignments`` add a signed
change for every insert, relevant update and delete. On SQLite (one writer at a time) they add it to the
count at once (upsert). On PostgreSQL concurrent transactions would queue on — and could deadlock over —
shared counter rows, so the triggers only append to ``<table>_delta`` (no row is ever updated there); the
report pages read the counts plus the pending changes, and fold the changes into the counts now and then
(``DELETE … RETURNING`` and an upsert in key order, one folder at a time). Existing rows are counted here.

Revision ID: 0011_report_counts
Revises: 0010_report_summaries
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_report_counts"
down_revision = "0010_report_summaries"
branch_labels = None
depends_on = None

#: table → (key columns, count columns). Month tables answer whole months, day tables the rest of a range.
UNIT_COUNTS = ("requests", "total", "back", "on_time", "late_done", "open")
TABLES = {
    "report_volume_days": (("local_day", "kind", "state", "channel"), ("n",)),
    "report_volume_places": (("month", "province_id", "district_id"), ("n",)),
    "report_volume_place_days": (("local_day", "province_id", "district_id"), ("n",)),
    "report_unit_counts": (("unit_id", "month"), UNIT_COUNTS),
    "report_unit_days": (("local_day", "unit_id"), UNIT_COUNTS),
    "report_work_days": (("unit_id", "work_day"), ("n",)),
}
KEY_TYPES = {
    "local_day": sa.String(10), "kind": sa.String(20), "state": sa.String(20), "channel": sa.String(10),
    "month": sa.String(7), "province_id": sa.Integer(), "district_id": sa.Integer(), "unit_id": sa.Integer(),
    "work_day": sa.Integer(),
}
OPEN_STATES = "('new', 'in_progress', 'forwarded')"
MONTH = "substr({}, 1, 7)"


def _flags(row: str, agg: str = "") -> str:
    """Handed back, completed on time, completed late, open: 1 or 0 for ``row`` (summed with ``agg``)."""
    return ", ".join(
        f"{agg}(CASE WHEN {condition} THEN 1 ELSE 0 END)"
        for condition in (
            f"{row}.state = 'handed_back'",
            f"{row}.state = 'completed' AND {row}.completed_at <= {row}.due_at",
            f"{row}.state = 'completed' AND {row}.completed_at > {row}.due_at",
            f"{row}.state IN {OPEN_STATES}",
        )
    )


def _assignment_counts(row: str, sign: str, pair: str) -> tuple[tuple[str, str], ...]:
    """The signed counts one assignment row (NEW or OLD) adds to its unit under its request's month and day."""
    flags = _flags(row).replace("(CASE", f"{sign}(CASE")
    rest = (f"{sign}({pair}), {sign}1, {flags} FROM report_requests rr WHERE rr.request_id = {row}.request_id")
    return (
        ("report_unit_counts", f"{row}.unit_id, {MONTH.format('rr.local_day')}, {rest}"),
        ("report_unit_days", f"rr.local_day, {row}.unit_id, {rest}"),
    )


def _pair_count(row: str) -> str:
    return f"(SELECT count(*) FROM assignments x WHERE x.request_id = {row}.request_id AND x.unit_id = {row}.unit_id)"


PAIR_CHANGED = "(OLD.unit_id <> NEW.unit_id OR OLD.request_id <> NEW.request_id)"
ON_ASSIGNMENT_INSERT = _assignment_counts("NEW", "", f"CASE WHEN {_pair_count('NEW')} = 1 THEN 1 ELSE 0 END")
ON_ASSIGNMENT_UPDATE = (
    *_assignment_counts("OLD", "-", f"CASE WHEN {PAIR_CHANGED} AND {_pair_count('OLD')} = 0 THEN 1 ELSE 0 END"),
    *_assignment_counts("NEW", "", f"CASE WHEN {PAIR_CHANGED} AND {_pair_count('NEW')} = 1 THEN 1 ELSE 0 END"),
)
ON_ASSIGNMENT_DELETE = _assignment_counts("OLD", "-", f"CASE WHEN {_pair_count('OLD')} = 0 THEN 1 ELSE 0 END")
ASSIGNMENT_CHANGED = (
    "OLD.state IS DISTINCT FROM NEW.state OR OLD.completed_at IS DISTINCT FROM NEW.completed_at "
    "OR OLD.due_at IS DISTINCT FROM NEW.due_at OR OLD.unit_id <> NEW.unit_id OR OLD.request_id <> NEW.request_id"
)


def _request_counts(row: str, sign: str) -> tuple[tuple[str, str], ...]:
    place = f"coalesce({row}.province_id, 0), coalesce({row}.district_id, 0), {sign}1"
    return (
        ("report_volume_days", f"{row}.local_day, {row}.kind, {row}.state, {row}.channel, {sign}1"),
        ("report_volume_places", f"{MONTH.format(row + '.local_day')}, {place}"),
        ("report_volume_place_days", f"{row}.local_day, {place}"),
    )


def _move_work(row: str, sign: str) -> tuple[tuple[str, str], ...]:
    """A request's assignments counted under (+) or taken off (-) the filing day and month of ``row``."""
    flags = _flags("a", "sum").replace("sum(", f"{sign}sum(")
    rest = (f"{sign}1, {sign}count(*), {flags} FROM assignments a WHERE a.request_id = {row}.request_id "
            "GROUP BY a.unit_id")
    return (
        ("report_unit_counts", f"a.unit_id, {MONTH.format(row + '.local_day')}, {rest}"),
        ("report_unit_days", f"{row}.local_day, a.unit_id, {rest}"),
    )


ON_REQUEST_INSERT = _request_counts("NEW", "")
ON_REQUEST_UPDATE = (*_request_counts("OLD", "-"), *_request_counts("NEW", ""))
# Only when the filing day changes (a correction): the request's assignments move with it.
ON_REQUEST_REDATED = (*_move_work("OLD", "-"), *_move_work("NEW", ""))
ON_REQUEST_DELETE = _request_counts("OLD", "-")
REQUEST_CHANGED = (
    "OLD.local_day <> NEW.local_day OR OLD.kind <> NEW.kind OR OLD.state <> NEW.state OR OLD.channel <> NEW.channel "
    "OR OLD.province_id IS DISTINCT FROM NEW.province_id OR OLD.district_id IS DISTINCT FROM NEW.district_id"
)



def _work_day(seconds: str) -> str:
    """Whole days (floor) of a work time in seconds, in integer arithmetic both databases share."""
    return f"(CASE WHEN {seconds} >= 0 THEN {seconds} / 86400 ELSE -((86399 - {seconds}) / 86400) END)"


# report_work_days: completed assignments per unit and whole days of work (from 0010's report_work rows).
ON_WORK_INSERT = (("report_work_days", f"NEW.unit_id, {_work_day('NEW.seconds')}, 1"),)
ON_WORK_DELETE = (("report_work_days", f"OLD.unit_id, {_work_day('OLD.seconds')}, -1"),)
ON_WORK_UPDATE = (*ON_WORK_DELETE, *ON_WORK_INSERT)
WORK_CHANGED = "OLD.unit_id <> NEW.unit_id OR OLD.seconds <> NEW.seconds"

# Filled in key order, so a day table's rows lie in day order (a range reads neighbouring pages).
UNIT_FILL = (f"count(DISTINCT a.request_id), count(*), {_flags('a', 'sum')} "
             "FROM assignments a JOIN report_requests rr ON rr.request_id = a.request_id")
FILL = {
    "report_volume_days": "SELECT local_day, kind, state, channel, count(*) FROM report_requests "
                          "GROUP BY local_day, kind, state, channel ORDER BY 1, 2, 3, 4",
    "report_volume_places": "SELECT substr(local_day, 1, 7), coalesce(province_id, 0), coalesce(district_id, 0), "
                            "count(*) FROM report_requests GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "report_volume_place_days": "SELECT local_day, coalesce(province_id, 0), coalesce(district_id, 0), "
                                "count(*) FROM report_requests GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "report_unit_counts": f"SELECT a.unit_id, substr(rr.local_day, 1, 7), {UNIT_FILL} GROUP BY 1, 2 ORDER BY 1, 2",
    "report_unit_days": f"SELECT rr.local_day, a.unit_id, {UNIT_FILL} GROUP BY 1, 2 ORDER BY 1, 2",
    "report_work_days": f"SELECT unit_id, {_work_day('seconds')}, count(*) FROM report_work GROUP BY 1, 2 ORDER BY 1, 2",
}


# report_open: one row per open assignment with its request's filing time, kept like 0010's report_work.
OPEN_COLUMNS = "assignment_id, unit_id, request_created_at, assigned_at, due_at"
FILL_OPEN = f"""
INSERT INTO report_open ({OPEN_COLUMNS})
SELECT a.id, a.unit_id, r.created_at, a.assigned_at, a.due_at FROM assignments a JOIN requests r ON r.id = a.request_id
WHERE a.state IN {OPEN_STATES}
"""
ON_ASSIGNMENT_OPEN = f"""
DELETE FROM report_open WHERE assignment_id = NEW.id;
INSERT INTO report_open ({OPEN_COLUMNS})
SELECT NEW.id, NEW.unit_id, r.created_at, NEW.assigned_at, NEW.due_at FROM requests r
WHERE r.id = NEW.request_id AND NEW.state IN {OPEN_STATES};
"""
ON_REQUEST_OPEN = ("UPDATE report_open SET request_created_at = NEW.created_at "
                   "WHERE assignment_id IN (SELECT id FROM assignments WHERE request_id = NEW.id);")
OPEN_TRIGGERS = (
    # name, event, table, body
    ("report_open_assignment_insert", "INSERT", "assignments", ON_ASSIGNMENT_OPEN),
    ("report_open_assignment_update", "UPDATE OF state, unit_id, request_id, assigned_at, due_at", "assignments",
     ON_ASSIGNMENT_OPEN),
    ("report_open_request", "UPDATE OF created_at", "requests", ON_REQUEST_OPEN),
)


def _open_table() -> None:
    op.create_table(
        "report_open",
        sa.Column("assignment_id", sa.String(32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("request_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_report_open")),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE",
                                name=op.f("fk_report_open_assignment_id_assignments")),
    )
    op.execute(FILL_OPEN)
    op.create_index("ix_report_open_assigned", "report_open", ["assigned_at"])
    op.create_index("ix_report_open_due", "report_open", ["due_at"])


def _columns(table: str) -> str:
    keys, counts = TABLES[table]
    return ", ".join((*keys, *counts))


def _add(table: str, select: str) -> str:
    """SQLite: one statement adding the signed counts ``SELECT {select}`` to ``table`` at once."""
    keys, counts = TABLES[table]
    # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
    where = " WHERE true" if " WHERE " not in select else ""
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    return (f"INSERT INTO {table} ({_columns(table)}) SELECT {select}{where} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};")


def _body(dialect: str, statements: tuple[tuple[str, str], ...]) -> str:
    if dialect == "postgresql":  # one INSERT per delta table (fewer statements for each written row)
        by_table: dict[str, list[str]] = {}
        for table, select in statements:
            by_table.setdefault(table, []).append(f"SELECT {select}")
        return "\n".join(f"INSERT INTO {table}_delta ({_columns(table)}) {' UNION ALL '.join(selects)};"
                         for table, selects in by_table.items())
    return "\n".join(_add(table, select) for table, select in statements)


TRIGGERS = (
    # name, event, table, when, statements
    ("report_counts_request_insert", "INSERT", "report_requests", None, ON_REQUEST_INSERT),
    ("report_counts_request_update", "UPDATE", "report_requests", REQUEST_CHANGED, ON_REQUEST_UPDATE),
    ("report_counts_request_delete", "DELETE", "report_requests", None, ON_REQUEST_DELETE),
    ("report_counts_request_redated", "UPDATE", "report_requests", "OLD.local_day <> NEW.local_day",
     ON_REQUEST_REDATED),
    ("report_counts_assignment_insert", "INSERT", "assignments", None, ON_ASSIGNMENT_INSERT),
    ("report_counts_assignment_update", "UPDATE", "assignments", ASSIGNMENT_CHANGED, ON_ASSIGNMENT_UPDATE),
    ("report_counts_assignment_delete", "DELETE", "assignments", None, ON_ASSIGNMENT_DELETE),
    ("report_counts_work_insert", "INSERT", "report_work", None, ON_WORK_INSERT),
    ("report_counts_work_update", "UPDATE", "report_work", WORK_CHANGED, ON_WORK_UPDATE),
    ("report_counts_work_delete", "DELETE", "report_work", None, ON_WORK_DELETE),
)


def _create_triggers(dialect: str) -> None:
    for name, event, table, body in OPEN_TRIGGERS:
        if dialect == "postgresql":
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\n"
                       "RETURN NULL;\nEND\n$$")
            op.execute(f"CREATE TRIGGER trg_{name} AFTER {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER trg_{name} AFTER {event} ON {table} FOR EACH ROW BEGIN {body} END")
    for name, event, table, when, statements in TRIGGERS:
        body = _body(dialect, statements)
        if dialect == "postgresql":
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\n"
                       "RETURN NULL;\nEND\n$$")
            condition = f" WHEN ({when})" if when else ""
            op.execute(f"CREATE TRIGGER trg_{name} AFTER {event} ON {table} FOR EACH ROW{condition} "
                       f"EXECUTE FUNCTION {name}()")
        else:
            condition = f" WHEN {when.replace('IS DISTINCT FROM', 'IS NOT')}" if when else ""
            op.execute(f"CREATE TRIGGER trg_{name} AFTER {event} ON {table} FOR EACH ROW{condition} "
                       f"BEGIN {body} END")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Unit work within a date range read from the index alone (0010's index on the filing time sent every
    # matching row to the table, in filing-time order, not the table's).
    op.create_index("ix_report_work_created_unit", "report_work",
                    ["request_created_at", "unit_id", "unit_province_id", "seconds"])
    op.drop_index("ix_report_work_created", table_name="report_work")
    for table, (keys, counts) in TABLES.items():
        count_columns = [sa.Column(c, sa.Integer(), nullable=False) for c in counts]
        op.create_table(
            table,
            *(sa.Column(k, KEY_TYPES[k], nullable=False) for k in keys),
            *count_columns,
            sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}")),
        )
        op.create_table(
            f"{table}_delta",
            *(sa.Column(k, KEY_TYPES[k], nullable=False) for k in keys),
            *(sa.Column(c, sa.Integer(), nullable=False) for c in counts),
        )
        op.execute(f"INSERT INTO {table} ({_columns(table)}) {FILL[table]}")
    _open_table()
    _create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    triggers = [(name, table) for name, _, table, _, _ in TRIGGERS] + [(name, table) for name, _, table, _ in OPEN_TRIGGERS]
    for name, table in triggers:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS trg_{name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{name}")
    op.drop_table("report_open")
    op.create_index("ix_report_work_created", "report_work", ["request_created_at"])
    op.drop_index("ix_report_work_created_unit", table_name="report_work")
    for table in TABLES:
        op.drop_table(f"{table}_delta")
        op.drop_table(table)
