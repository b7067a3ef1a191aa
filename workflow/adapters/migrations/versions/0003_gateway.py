"""gateway tables (placeholder in the chain until the gateway area adds its tables).

Revision ID: 0003_gateway
Revises: 0002_messaging
"""

revision = "0003_gateway"
down_revision = "0002_messaging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
