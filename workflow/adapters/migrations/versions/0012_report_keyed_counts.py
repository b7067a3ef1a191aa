"""report keyed counts: the place, unit and work-time counts also per kind × muhtar-facing state × channel.

0011_report_counts keeps the place and unit counts and the work-days histogram without the request's kind,
state and channel, so pages filtered by those fell back to the base tables (2–2.5 s at 1 M requests). This
adds keyed variants, kept by the same kind of triggers (PostgreSQL: appended to ``<table>_delta`` and
folded by workflow/reports/counts.py; SQLite: added at once), each holding only the keys that occur:

- ``report_volume_places_keyed`` / ``report_volume_place_days_keyed``: requests per filing month / day ×
  province × district × kind × state × channel;
- ``report_unit_counts_keyed`` / ``report_unit_days_keyed``: 0011's unit counts per month / day × the
  request's kind, state and channel;
- ``report_work_days_keyed`` / ``report_work_province_days_keyed``: completed assignments per unit / per the
  unit's province × whole days of work × kind, state, channel (histograms for exact percentiles).

A request changes state as it moves on, so when its day, kind, state or channel changes its assignments'
unit counts and its completions' histogram entries move from the old keys to the new (one trigger).

The durations of a filtered subset still need exact values. ``report_requests`` gets ``kcs``, the kind, state
and channel in one small number (generated), ``report_work`` and ``report_open`` a copy of it
(``request_kcs``, kept by triggers), and on PostgreSQL the ``(group, seconds)`` indexes of both carry it as
a 2-byte INCLUDE column, so a filtered percentile or an exact value inside a histogram's day is still an
index-only scan in value order. Existing rows are counted and copied here.

Revision ID: 0012_report_keyed_counts
Revises: 0011_report_counts
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_report_keyed_counts"
down_revision = "0011_report_counts"
branch_labels = None
depends_on = None

UNIT_COUNTS = ("requests", "total", "back", "on_time", "late_done", "open")
KCS = ("kind", "state", "channel")
TABLES = {
    "report_volume_places_keyed": (("month", "province_id", "district_id", *KCS), ("n",)),
    "report_volume_place_days_keyed": (("local_day", "province_id", "district_id", *KCS), ("n",)),
    "report_unit_counts_keyed": (("unit_id", "month", *KCS), UNIT_COUNTS),
    "report_unit_days_keyed": (("local_day", "unit_id", *KCS), UNIT_COUNTS),
    "report_work_days_keyed": (("unit_id", "work_day", *KCS), ("n",)),
    "report_work_province_days_keyed": (("unit_province_id", "work_day", *KCS), ("n",)),
}
KEY_TYPES = {
    "local_day": sa.String(10), "kind": sa.String(20), "state": sa.String(20), "channel": sa.String(10),
    "month": sa.String(7), "province_id": sa.Integer(), "district_id": sa.Integer(), "unit_id": sa.Integer(),
    "work_day": sa.Integer(), "unit_province_id": sa.Integer(),
}
OPEN_STATES = "('new', 'in_progress', 'forwarded')"
MONTH = "substr({}, 1, 7)"
#: The request's kind, state and channel in one small number (workflow/reports/schema.py KCS_*): kept on
#: report_requests (generated) and copied onto report_work and report_open, so the percentile indexes carry
#: it in 2 bytes. A value outside these lists gives NULL (a later migration must extend both).
KINDS = ("sikayet", "istek", "ihbar", "gorus_oneri")
STATES = ("bekleyen", "yonlendirilen", "sonuclanan")
CHANNELS = ("web", "sms", "ussd")


def _position(column: str, values: tuple[str, ...]) -> str:
    return f"CASE {column} {' '.join(f'WHEN {v!r} THEN {i}' for i, v in enumerate(values))} END"


def kcs_code(row: str = "") -> str:
    """(kind · 3 + state) · 3 + channel of ``row`` (a table alias, NEW or OLD; none in a generated column)."""
    at = f"{row}." if row else ""
    return (f"(({_position(at + 'kind', KINDS)}) * 3 + ({_position(at + 'state', STATES)})) * 3 "
            f"+ ({_position(at + 'channel', CHANNELS)})")


COPIED = (("request_kcs", "kcs", sa.SmallInteger()),)


def _kcs(row: str) -> str:
    return f"{row}.kind, {row}.state, {row}.channel"


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


def _work_day(seconds: str) -> str:
    """Whole days (floor) of a work time in seconds, in integer arithmetic both databases share (as 0011)."""
    return f"(CASE WHEN {seconds} >= 0 THEN {seconds} / 86400 ELSE -((86399 - {seconds}) / 86400) END)"


# --- places: a report_requests row (NEW or OLD) counted under its own keys.
def _place_counts(row: str, sign: str) -> tuple[tuple[str, str], ...]:
    place = f"coalesce({row}.province_id, 0), coalesce({row}.district_id, 0), {_kcs(row)}, {sign}1"
    return (
        ("report_volume_places_keyed", f"{MONTH.format(row + '.local_day')}, {place}"),
        ("report_volume_place_days_keyed", f"{row}.local_day, {place}"),
    )


ON_REQUEST_INSERT = _place_counts("NEW", "")
ON_REQUEST_UPDATE = (*_place_counts("OLD", "-"), *_place_counts("NEW", ""))
ON_REQUEST_DELETE = _place_counts("OLD", "-")
REQUEST_CHANGED = (
    "OLD.local_day <> NEW.local_day OR OLD.kind <> NEW.kind OR OLD.state <> NEW.state OR OLD.channel <> NEW.channel "
    "OR OLD.province_id IS DISTINCT FROM NEW.province_id OR OLD.district_id IS DISTINCT FROM NEW.district_id"
)
KEYS_CHANGED = ("OLD.local_day <> NEW.local_day OR OLD.kind <> NEW.kind OR OLD.state <> NEW.state "
                "OR OLD.channel <> NEW.channel")


# --- units: an assignment row counted under its request's day, month, kind, state and channel.
def _assignment_counts(row: str, sign: str, pair: str) -> tuple[tuple[str, str], ...]:
    flags = _flags(row).replace("(CASE", f"{sign}(CASE")
    rest = (f"{_kcs('rr')}, {sign}({pair}), {sign}1, {flags} "
            f"FROM report_requests rr WHERE rr.request_id = {row}.request_id")
    return (
        ("report_unit_counts_keyed", f"{row}.unit_id, {MONTH.format('rr.local_day')}, {rest}"),
        ("report_unit_days_keyed", f"rr.local_day, {row}.unit_id, {rest}"),
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


# --- work days: a report_work row counted under its request's kind, state and channel.
def _work_counts(row: str, sign: str) -> tuple[tuple[str, str], ...]:
    rest = (f"{_work_day(row + '.seconds')}, {_kcs('rr')}, {sign}1 "
            f"FROM report_requests rr WHERE rr.request_id = {row}.request_id")
    return (("report_work_days_keyed", f"{row}.unit_id, {rest}"),
            ("report_work_province_days_keyed", f"coalesce({row}.unit_province_id, 0), {rest}"))


ON_WORK_INSERT = _work_counts("NEW", "")
ON_WORK_DELETE = _work_counts("OLD", "-")
ON_WORK_UPDATE = (*ON_WORK_DELETE, *ON_WORK_INSERT)
WORK_CHANGED = ("OLD.unit_id <> NEW.unit_id OR OLD.seconds <> NEW.seconds OR OLD.request_id <> NEW.request_id "
                "OR OLD.unit_province_id IS DISTINCT FROM NEW.unit_province_id")


# --- a request whose day, kind, state or channel changes: its assignments and completions move keys.
def _move(row: str, sign: str) -> tuple[tuple[str, str], ...]:
    flags = _flags("a", "sum").replace("sum(", f"{sign}sum(")
    rest = (f"{_kcs(row)}, {sign}1, {sign}count(*), {flags} FROM assignments a "
            f"WHERE a.request_id = {row}.request_id GROUP BY a.unit_id")
    day = _work_day("w.seconds")
    return (
        ("report_unit_counts_keyed", f"a.unit_id, {MONTH.format(row + '.local_day')}, {rest}"),
        ("report_unit_days_keyed", f"{row}.local_day, a.unit_id, {rest}"),
        ("report_work_days_keyed", f"w.unit_id, {day}, {_kcs(row)}, {sign}count(*) FROM report_work w "
                                   f"WHERE w.request_id = {row}.request_id GROUP BY w.unit_id, {day}"),
        ("report_work_province_days_keyed", f"coalesce(w.unit_province_id, 0), {day}, {_kcs(row)}, {sign}count(*) "
                                            f"FROM report_work w WHERE w.request_id = {row}.request_id "
                                            f"GROUP BY coalesce(w.unit_province_id, 0), {day}"),
    )


ON_REQUEST_MOVED = (*_move("OLD", "-"), *_move("NEW", ""))

# Filled in key order (a day table's rows lie in day order).
UNIT_FILL = (f"count(DISTINCT a.request_id), count(*), {_flags('a', 'sum')} "
             "FROM assignments a JOIN report_requests rr ON rr.request_id = a.request_id")
PLACE = "coalesce(province_id, 0), coalesce(district_id, 0), kind, state, channel"
FILL = {
    "report_volume_places_keyed": f"SELECT substr(local_day, 1, 7), {PLACE}, count(*) FROM report_requests "
                                  "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
    "report_volume_place_days_keyed": f"SELECT local_day, {PLACE}, count(*) FROM report_requests "
                                      "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
    "report_unit_counts_keyed": f"SELECT a.unit_id, substr(rr.local_day, 1, 7), {_kcs('rr')}, {UNIT_FILL} "
                                "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    "report_unit_days_keyed": f"SELECT rr.local_day, a.unit_id, {_kcs('rr')}, {UNIT_FILL} "
                              "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    "report_work_days_keyed": f"SELECT w.unit_id, {_work_day('w.seconds')}, {_kcs('rr')}, count(*) "
                              "FROM report_work w JOIN report_requests rr ON rr.request_id = w.request_id "
                              "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    "report_work_province_days_keyed": f"SELECT coalesce(w.unit_province_id, 0), {_work_day('w.seconds')}, "
                                       f"{_kcs('rr')}, count(*) FROM report_work w JOIN report_requests rr "
                                       "ON rr.request_id = w.request_id GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
}

# --- the request's kind, state and channel copied onto report_work and report_open.
COPY_SET = f"request_kcs = {kcs_code('rr')}"
FILL_COPIES = {
    "postgresql": (
        f"UPDATE report_work w SET {COPY_SET} FROM report_requests rr WHERE rr.request_id = w.request_id",
        f"UPDATE report_open o SET {COPY_SET} FROM assignments a JOIN report_requests rr "
        "ON rr.request_id = a.request_id WHERE a.id = o.assignment_id",
    ),
    "sqlite": (
        "UPDATE report_work SET ({}) = (SELECT {} FROM report_requests rr "
        "WHERE rr.request_id = report_work.request_id)",
        "UPDATE report_open SET ({}) = (SELECT {} FROM assignments a JOIN report_requests rr "
        "ON rr.request_id = a.request_id WHERE a.id = report_open.assignment_id)",
    ),
}
COPY_NAMES = ", ".join(column for column, _, _ in COPIED)
COPY_SOURCES = kcs_code("rr")
WORK_SOURCE = "FROM report_requests rr WHERE rr.request_id = NEW.request_id"
OPEN_SOURCE = "FROM assignments a JOIN report_requests rr ON rr.request_id = a.request_id WHERE a.id = NEW.assignment_id"
ON_REQUEST_COPIES = (
    f"UPDATE report_work SET request_kcs = {kcs_code('NEW')} WHERE request_id = NEW.request_id;\n"
    f"UPDATE report_open SET request_kcs = {kcs_code('NEW')} "
    "WHERE assignment_id IN (SELECT id FROM assignments WHERE request_id = NEW.request_id);"
)
COPIES_CHANGED = "OLD.kind <> NEW.kind OR OLD.state <> NEW.state OR OLD.channel <> NEW.channel"

#: PostgreSQL: the (group, seconds) indexes carry the filter columns (index-only filtered percentiles).
PG_INDEXES = (
    ("ix_report_requests_province_triage", "report_requests", "province_id, triage_seconds", "kcs"),
    ("ix_report_requests_province_closing", "report_requests", "province_id, closing_seconds", "kcs"),
    ("ix_report_requests_province_whole", "report_requests", "province_id, whole_seconds", "kcs"),
    ("ix_report_work_unit_seconds", "report_work", "unit_id, seconds", "request_kcs"),
    ("ix_report_work_province_seconds", "report_work", "unit_province_id, seconds", "request_kcs"),
    ("ix_report_work_created_unit", "report_work", "request_created_at, unit_id, unit_province_id, seconds",
     "request_kcs"),
)


def _columns(table: str) -> str:
    keys, counts = TABLES[table]
    return ", ".join((*keys, *counts))


def _add(table: str, select: str) -> str:
    """SQLite: one statement adding the signed counts ``SELECT {select}`` to ``table`` at once."""
    keys, counts = TABLES[table]
    where = " WHERE true" if " WHERE " not in select else ""  # keeps SQLite from reading ON CONFLICT as a join's
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    return (f"INSERT INTO {table} ({_columns(table)}) SELECT {select}{where} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates};")


def _body(dialect: str, statements: tuple[tuple[str, str], ...]) -> str:
    if dialect == "postgresql":  # one INSERT per delta table
        by_table: dict[str, list[str]] = {}
        for table, select in statements:
            by_table.setdefault(table, []).append(f"SELECT {select}")
        return "\n".join(f"INSERT INTO {table}_delta ({_columns(table)}) {' UNION ALL '.join(selects)};"
                         for table, selects in by_table.items())
    return "\n".join(_add(table, select) for table, select in statements)


TRIGGERS = (
    # name, event, table, when, statements
    ("report_keyed_request_insert", "INSERT", "report_requests", None, ON_REQUEST_INSERT),
    ("report_keyed_request_update", "UPDATE", "report_requests", REQUEST_CHANGED, ON_REQUEST_UPDATE),
    ("report_keyed_request_delete", "DELETE", "report_requests", None, ON_REQUEST_DELETE),
    ("report_keyed_request_moved", "UPDATE", "report_requests", KEYS_CHANGED, ON_REQUEST_MOVED),
    ("report_keyed_assignment_insert", "INSERT", "assignments", None, ON_ASSIGNMENT_INSERT),
    ("report_keyed_assignment_update", "UPDATE", "assignments", ASSIGNMENT_CHANGED, ON_ASSIGNMENT_UPDATE),
    ("report_keyed_assignment_delete", "DELETE", "assignments", None, ON_ASSIGNMENT_DELETE),
    ("report_keyed_work_insert", "INSERT", "report_work", None, ON_WORK_INSERT),
    ("report_keyed_work_update", "UPDATE", "report_work", WORK_CHANGED, ON_WORK_UPDATE),
    ("report_keyed_work_delete", "DELETE", "report_work", None, ON_WORK_DELETE),
)
#: name, table, source of the copied columns (PostgreSQL: BEFORE INSERT sets them; SQLite: AFTER INSERT)
COPY_TRIGGERS = (
    ("report_copies_work", "report_work", WORK_SOURCE, "assignment_id"),
    ("report_copies_open", "report_open", OPEN_SOURCE, "assignment_id"),
)


def _pg_function(name: str, body: str, result: str = "NULL") -> None:
    op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\n"
               f"RETURN {result};\nEND\n$$")


def _sqlite_when(when: str) -> str:
    return when.replace("IS DISTINCT FROM", "IS NOT")


def _create_triggers(dialect: str) -> None:
    for name, event, table, when, statements in TRIGGERS:
        body = _body(dialect, statements)
        if dialect == "postgresql":
            _pg_function(name, body)
            condition = f" WHEN ({when})" if when else ""
            op.execute(f"CREATE TRIGGER trg_{name} AFTER {event} ON {table} FOR EACH ROW{condition} "
                       f"EXECUTE FUNCTION {name}()")
        else:
            condition = f" WHEN {_sqlite_when(when)}" if when else ""
            op.execute(f"CREATE TRIGGER trg_{name} AFTER {event} ON {table} FOR EACH ROW{condition} "
                       f"BEGIN {body} END")
    for name, table, source, key in COPY_TRIGGERS:
        if dialect == "postgresql":
            into = ", ".join(f"NEW.{column}" for column, _, _ in COPIED)
            _pg_function(name, f"SELECT {COPY_SOURCES} INTO {into} {source};", "NEW")
            op.execute(f"CREATE TRIGGER trg_{name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER trg_{name} AFTER INSERT ON {table} FOR EACH ROW BEGIN "
                       f"UPDATE {table} SET ({COPY_NAMES}) = (SELECT {COPY_SOURCES} {source}) "
                       f"WHERE {key} = NEW.{key}; END")
    if dialect == "postgresql":
        _pg_function("report_copies_request", ON_REQUEST_COPIES)
        op.execute("CREATE TRIGGER trg_report_copies_request AFTER UPDATE ON report_requests FOR EACH ROW "
                   f"WHEN ({COPIES_CHANGED}) EXECUTE FUNCTION report_copies_request()")
    else:
        op.execute("CREATE TRIGGER trg_report_copies_request AFTER UPDATE ON report_requests FOR EACH ROW "
                   f"WHEN {COPIES_CHANGED} BEGIN {ON_REQUEST_COPIES} END")


def _trigger_names() -> list[tuple[str, str]]:
    return ([(name, table) for name, _, table, _, _ in TRIGGERS]
            + [(name, table) for name, table, _, _ in COPY_TRIGGERS]
            + [("report_copies_request", "report_requests")])


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # rebuilt below with the copied columns; not kept up to date meanwhile
        for name, _, _, _ in PG_INDEXES:
            op.execute(f"DROP INDEX {name}")
    kind = "STORED" if dialect == "postgresql" else "VIRTUAL"  # SQLite adds only VIRTUAL generated columns
    op.execute(f"ALTER TABLE report_requests ADD COLUMN kcs smallint GENERATED ALWAYS AS ({kcs_code()}) "
               f"{kind}")
    for table in ("report_work", "report_open"):
        for column, _, type_ in COPIED:
            op.add_column(table, sa.Column(column, type_, nullable=True))
    for statement in FILL_COPIES[dialect]:
        op.execute(statement.format(COPY_NAMES, COPY_SOURCES))
    for table, (keys, counts) in TABLES.items():
        for name, primary in ((table, True), (f"{table}_delta", False)):
            op.create_table(
                name,
                *(sa.Column(k, KEY_TYPES[k], nullable=False) for k in keys),
                *(sa.Column(c, sa.Integer(), nullable=False) for c in counts),
                *([sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}"))] if primary else []),
            )
        op.execute(f"INSERT INTO {table} ({_columns(table)}) {FILL[table]}")
    if dialect == "postgresql":
        for name, table, columns, include in PG_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {table} ({columns}) INCLUDE ({include})")
    _create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, table in _trigger_names():
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS trg_{name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{name}")
    for table in TABLES:
        op.drop_table(f"{table}_delta")
        op.drop_table(table)
    if dialect == "postgresql":
        for name, table, columns, _ in PG_INDEXES:
            op.execute(f"DROP INDEX {name}")
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
    for table in ("report_work", "report_open"):
        for column, _, _ in reversed(COPIED):
            op.drop_column(table, column)
    op.drop_column("report_requests", "kcs")
