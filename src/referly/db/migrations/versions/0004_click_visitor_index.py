"""index clicks by link and visitor (a sign-up finds its click without a scan)

Revision ID: 0004
Revises: 0003

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_clicks_referral_link_id_visitor_id", "clicks", ["referral_link_id", "visitor_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_clicks_referral_link_id_visitor_id", table_name="clicks")
