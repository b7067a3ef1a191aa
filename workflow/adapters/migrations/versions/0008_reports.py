"""reports: the report_requests summary table kept by triggers, and indexes for the report queries.

See workflow/reports/schema.py. The triggers copy a request's reported fields on insert and update, and
move its first-routing and last-completion times as assignments are made and completed; existing rows are
filled once here.

Revision ID: 0008_reports
Revises: 0007_mail
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_reports"
down_revision = "0007_mail"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_requests_created_at", "requests", ["created_at"]),
    ("ix_assignments_state_due", "assignments", ["state", "due_at"]),
    ("ix_assignments_state_unit_times", "assignments", ["state", "unit_id", "assigned_at", "completed_at"]),
    ("ix_assignments_unit_request", "assignments", ["unit_id", "request_id"]),
    ("ix_assignments_assigned_at", "assignments", ["assigned_at"]),
)
# The Istanbul calendar day of a filing time (Turkey keeps UTC+3 all year since 2016; SQLite has no zones).
LOCAL_DAY = {
    "postgresql": "to_char({col} AT TIME ZONE 'Europe/Istanbul', 'YYYY-MM-DD')",
    "sqlite": "date({col}, '+3 hours')",
}

# Grouped joins rather than per-row subqueries, so the fill stays one pass on a large table even before
# the planner has statistics.
FILL = """
INSERT INTO report_requests (request_id, created_at, local_day, kind, channel, state, province_id, district_id,
                             first_routed_at, last_completed_at, concluded_at)
SELECT r.id, r.created_at, {day_r}, r.kind, r.channel, r.state, ml.province_id, ml.district_id,
       fr.first_at, lc.last_at, r.concluded_at
FROM requests r
JOIN muhtars m ON m.id = r.muhtar_id
JOIN muhtarliks ml ON ml.id = m.muhtarlik_id
LEFT JOIN (SELECT request_id, min(assigned_at) AS first_at FROM assignments WHERE parent_id IS NULL
           GROUP BY request_id) fr ON fr.request_id = r.id
LEFT JOIN (SELECT request_id, max(completed_at) AS last_at FROM assignments WHERE state = 'completed'
           GROUP BY request_id) lc ON lc.request_id = r.id
"""

# The statements both databases' triggers run (NEW is the written row).
ON_REQUEST_INSERT = """
INSERT INTO report_requests (request_id, created_at, local_day, kind, channel, state, province_id, district_id,
                             concluded_at)
SELECT NEW.id, NEW.created_at, {day_new}, NEW.kind, NEW.channel, NEW.state, ml.province_id, ml.district_id,
       NEW.concluded_at
FROM muhtars m JOIN muhtarliks ml ON ml.id = m.muhtarlik_id WHERE m.id = NEW.muhtar_id;
"""
ON_REQUEST_UPDATE = """
UPDATE report_requests SET created_at = NEW.created_at, local_day = {day_new}, kind = NEW.kind, channel = NEW.channel,
       state = NEW.state, concluded_at = NEW.concluded_at
WHERE request_id = NEW.id;
"""
ON_ASSIGNMENT = """
UPDATE report_requests SET first_routed_at = NEW.assigned_at
WHERE NEW.parent_id IS NULL AND request_id = NEW.request_id
  AND (first_routed_at IS NULL OR first_routed_at > NEW.assigned_at);
UPDATE report_requests SET last_completed_at = NEW.completed_at
WHERE NEW.state = 'completed' AND NEW.completed_at IS NOT NULL AND request_id = NEW.request_id
  AND (last_completed_at IS NULL OR last_completed_at < NEW.completed_at);
"""
REQUEST_COLUMNS = "created_at, kind, channel, state, concluded_at"
ASSIGNMENT_COLUMNS = "state, completed_at, assigned_at, parent_id"


def _sql(template: str) -> str:
    day = LOCAL_DAY[op.get_bind().dialect.name]
    return template.format(day_r=day.format(col="r.created_at"), day_new=day.format(col="NEW.created_at"))


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}\nRETURN NULL;\nEND\n$$"
    )


def _triggers_pg() -> None:
    op.execute(_pg_function("report_requests_insert", _sql(ON_REQUEST_INSERT)))
    op.execute(_pg_function("report_requests_update", _sql(ON_REQUEST_UPDATE)))
    op.execute(_pg_function("report_requests_assignment", ON_ASSIGNMENT))
    op.execute("CREATE TRIGGER trg_report_requests_insert AFTER INSERT ON requests "
               "FOR EACH ROW EXECUTE FUNCTION report_requests_insert()")
    op.execute(f"CREATE TRIGGER trg_report_requests_update AFTER UPDATE OF {REQUEST_COLUMNS} ON requests "
               "FOR EACH ROW EXECUTE FUNCTION report_requests_update()")
    op.execute(f"CREATE TRIGGER trg_report_requests_assignment AFTER INSERT OR UPDATE OF {ASSIGNMENT_COLUMNS} "
               "ON assignments FOR EACH ROW EXECUTE FUNCTION report_requests_assignment()")


def _triggers_sqlite() -> None:
    op.execute(f"CREATE TRIGGER trg_report_requests_insert AFTER INSERT ON requests BEGIN {_sql(ON_REQUEST_INSERT)} END")
    op.execute(f"CREATE TRIGGER trg_report_requests_update AFTER UPDATE OF {REQUEST_COLUMNS} ON requests "
               f"BEGIN {_sql(ON_REQUEST_UPDATE)} END")
    op.execute(f"CREATE TRIGGER trg_report_requests_assignment_insert AFTER INSERT ON assignments "
               f"BEGIN {ON_ASSIGNMENT} END")
    op.execute(f"CREATE TRIGGER trg_report_requests_assignment_update AFTER UPDATE OF {ASSIGNMENT_COLUMNS} "
               f"ON assignments BEGIN {ON_ASSIGNMENT} END")


def upgrade() -> None:
    op.create_table(
        "report_requests",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("province_id", sa.SmallInteger(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("first_routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_report_requests")),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE",
                                name=op.f("fk_report_requests_request_id_requests")),
    )
    op.create_index("ix_report_requests_created", "report_requests", ["created_at"])
    op.create_index("ix_report_requests_province_created", "report_requests", ["province_id", "created_at"])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.execute(_sql(FILL))
    if op.get_bind().dialect.name == "postgresql":
        _triggers_pg()
    else:
        _triggers_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in (("trg_report_requests_insert", "requests"), ("trg_report_requests_update", "requests"),
                               ("trg_report_requests_assignment", "assignments")):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for function in ("report_requests_insert", "report_requests_update", "report_requests_assignment"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for trigger in ("trg_report_requests_insert", "trg_report_requests_update",
                        "trg_report_requests_assignment_insert", "trg_report_requests_assignment_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table("report_requests")
