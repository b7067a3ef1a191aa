"""webui tables (placeholder in the chain until the webui area adds its tables).

Revision ID: 0005_webui
Revises: 0004_inbound
"""

revision = "0005_webui"
down_revision = "0004_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
