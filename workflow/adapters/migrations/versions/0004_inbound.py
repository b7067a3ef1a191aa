"""inbound tables (placeholder in the chain until the inbound area adds its tables).

Revision ID: 0004_inbound
Revises: 0003_gateway
"""

revision = "0004_inbound"
down_revision = "0003_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
