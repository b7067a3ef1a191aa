"""messaging tables (placeholder in the chain until the messaging area adds its tables).

Revision ID: 0002_messaging
Revises: 0001_foundation
"""

revision = "0002_messaging"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
