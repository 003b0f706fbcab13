"""customer flags (self-referral)

Revision ID: 0003
Revises: 0002

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("flagged_partner_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_flagged_partner_id_partners"),
            "partners",
            ["flagged_partner_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_customers_flagged_partner_id_partners"), type_="foreignkey"
        )
        batch_op.drop_column("flagged_partner_id")
        batch_op.drop_column("flag")
