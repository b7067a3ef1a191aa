"""report summaries: durations in whole seconds, ready for per-group percentiles read in index order.

- ``report_requests`` gains three generated columns — ``triage_seconds`` (filing → first routing),
  ``closing_seconds`` (last unit completion → conclusion), ``whole_seconds`` (filing → conclusion) — the
  database computes them from the row's own times whenever the 0008 triggers write those, and indexes
  ``(province_id, <step>)`` hand them to the per-province median/p90 already sorted.
- ``report_work`` holds one narrow row per *completed* assignment: unit, the unit's province, the request's
  filing time and the work time in seconds. Triggers on ``assignments`` (insert, and updates of state, times
  or unit) delete and re-add an assignment's row, so a completion adds it, a reopening or hand-back removes
  it, and a corrected time moves it; a request's filing time follows updates of ``requests.created_at``.
  Indexes ``(unit_id, seconds)`` and ``(unit_province_id, seconds)`` give per-unit and per-province
  percentiles from an index-only scan without a sort.

Percentiles stay exact (nearest rank) at one-second resolution; only the source is narrower. Existing rows
are filled here. Both PostgreSQL (plpgsql triggers, STORED columns) and SQLite (triggers, VIRTUAL columns).

Revision ID: 0010_report_summaries
Revises: 0008_reports
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_report_summaries"
down_revision = "0008_reports"
branch_labels = None
depends_on = None

# Whole seconds between two timestamps (rounded); NULL when either is NULL.
SECONDS = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS integer)",
    "sqlite": "CAST(round((julianday({end}) - julianday({start})) * 86400) AS INTEGER)",
}
STEPS = (
    ("triage_seconds", "created_at", "first_routed_at"),
    ("closing_seconds", "last_completed_at", "concluded_at"),
    ("whole_seconds", "created_at", "concluded_at"),
)

FILL_WORK = """
INSERT INTO report_work (assignment_id, request_id, unit_id, unit_province_id, request_created_at, seconds)
SELECT a.id, a.request_id, a.unit_id, u.province_id, r.created_at, {seconds}
FROM assignments a JOIN units u ON u.id = a.unit_id JOIN requests r ON r.id = a.request_id
WHERE a.state = 'completed' AND a.completed_at IS NOT NULL
"""
# Run for every written assignment (NEW): drop its row, then add it back if it is completed.
ON_ASSIGNMENT = """
DELETE FROM report_work WHERE assignment_id = NEW.id;
INSERT INTO report_work (assignment_id, request_id, unit_id, unit_province_id, request_created_at, seconds)
SELECT NEW.id, NEW.request_id, NEW.unit_id, u.province_id, r.created_at, {seconds}
FROM units u, requests r
WHERE u.id = NEW.unit_id AND r.id = NEW.request_id AND NEW.state = 'completed' AND NEW.completed_at IS NOT NULL;
"""
ON_REQUEST = "UPDATE report_work SET request_created_at = NEW.created_at WHERE request_id = NEW.id;"
ASSIGNMENT_COLUMNS = "state, completed_at, assigned_at, unit_id, request_id"
INDEXES = (
    ("ix_report_requests_province_triage", "report_requests", ["province_id", "triage_seconds"]),
    ("ix_report_requests_province_closing", "report_requests", ["province_id", "closing_seconds"]),
    ("ix_report_requests_province_whole", "report_requests", ["province_id", "whole_seconds"]),
    ("ix_report_work_unit_seconds", "report_work", ["unit_id", "seconds"]),
    ("ix_report_work_province_seconds", "report_work", ["unit_province_id", "seconds"]),
    ("ix_report_work_created", "report_work", ["request_created_at"]),
    ("ix_report_work_request", "report_work", ["request_id"]),
)


def _seconds(start: str, end: str) -> str:
    return SECONDS[op.get_bind().dialect.name].format(start=start, end=end)


def _add_step_columns(dialect: str) -> None:
    if dialect == "postgresql":
        # One ALTER: one rewrite of the table for all three columns.
        parts = ", ".join(
            f"ADD COLUMN {name} integer GENERATED ALWAYS AS ({_seconds(start, end)}) STORED"
            for name, start, end in STEPS
        )
        op.execute(f"ALTER TABLE report_requests {parts}")
        return
    for name, start, end in STEPS:  # SQLite adds only VIRTUAL generated columns (they can be indexed)
        op.execute(f"ALTER TABLE report_requests ADD COLUMN {name} INTEGER "
                   f"GENERATED ALWAYS AS ({_seconds(start, end)}) VIRTUAL")


def _triggers(dialect: str) -> None:
    work = ON_ASSIGNMENT.format(seconds=_seconds("NEW.assigned_at", "NEW.completed_at"))
    if dialect == "postgresql":
        for name, body in (("report_work_assignment", work), ("report_work_request", ON_REQUEST)):
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\n"
                       "RETURN NULL;\nEND\n$$")
        op.execute(f"CREATE TRIGGER trg_report_work_assignment AFTER INSERT OR UPDATE OF {ASSIGNMENT_COLUMNS} "
                   "ON assignments FOR EACH ROW EXECUTE FUNCTION report_work_assignment()")
        op.execute("CREATE TRIGGER trg_report_work_request AFTER UPDATE OF created_at ON requests "
                   "FOR EACH ROW EXECUTE FUNCTION report_work_request()")
        return
    op.execute(f"CREATE TRIGGER trg_report_work_assignment_insert AFTER INSERT ON assignments BEGIN {work} END")
    op.execute(f"CREATE TRIGGER trg_report_work_assignment_update AFTER UPDATE OF {ASSIGNMENT_COLUMNS} "
               f"ON assignments BEGIN {work} END")
    op.execute(f"CREATE TRIGGER trg_report_work_request AFTER UPDATE OF created_at ON requests BEGIN {ON_REQUEST} END")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _add_step_columns(dialect)
    op.create_table(
        "report_work",
        sa.Column("assignment_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("unit_province_id", sa.SmallInteger(), nullable=True),
        sa.Column("request_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_report_work")),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE",
                                name=op.f("fk_report_work_assignment_id_assignments")),
    )
    op.execute(FILL_WORK.format(seconds=_seconds("a.assigned_at", "a.completed_at")))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    _triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_report_work_assignment ON assignments")
        op.execute("DROP TRIGGER IF EXISTS trg_report_work_request ON requests")
        op.execute("DROP FUNCTION IF EXISTS report_work_assignment()")
        op.execute("DROP FUNCTION IF EXISTS report_work_request()")
    else:
        for trigger in ("trg_report_work_assignment_insert", "trg_report_work_assignment_update",
                        "trg_report_work_request"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table("report_work")
    for name, _, _ in STEPS:
        op.execute(f"ALTER TABLE report_requests DROP COLUMN {name}")
