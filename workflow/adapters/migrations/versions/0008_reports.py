"""reports: indexes for the report queries (see workflow/reports/schema.py).

Revision ID: 0008_reports
Revises: 0007_mail
"""

from alembic import op

revision = "0008_reports"
down_revision = "0007_mail"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_requests_created_at", "requests", ["created_at"]),
    ("ix_assignments_state_due", "assignments", ["state", "due_at"]),
    ("ix_assignments_state_unit_times", "assignments", ["state", "unit_id", "assigned_at", "completed_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
