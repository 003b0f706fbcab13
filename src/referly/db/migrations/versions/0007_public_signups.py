"""public sign-ups: a program switch, superseded sign-ups kept for review, customer aliases,
and the writer's commit tick

Revision ID: 0007
Revises: 0004

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ticks = op.create_table(
        "commit_ticks",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commit_ticks")),
    )
    op.bulk_insert(ticks, [{"id": 1, "n": 0}])
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("public_signups", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.create_table(
        "customer_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("email_ci", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_aliases_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_aliases")),
    )
    op.create_index(
        op.f("ix_customer_aliases_customer_id"), "customer_aliases", ["customer_id"], unique=False
    )
    op.create_table(
        "superseded_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("referral_link_id", sa.Integer(), nullable=True),
        sa.Column("click_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("signed_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["click_id"],
            ["clicks.id"],
            name=op.f("fk_superseded_signups_click_id_clicks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_superseded_signups_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_superseded_signups_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_superseded_signups_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_link_id"],
            ["referral_links.id"],
            name=op.f("fk_superseded_signups_referral_link_id_referral_links"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_superseded_signups")),
    )
    op.create_index(
        op.f("ix_superseded_signups_customer_id"),
        "superseded_signups",
        ["customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("commit_ticks")
    op.drop_index(op.f("ix_superseded_signups_customer_id"), table_name="superseded_signups")
    op.drop_table("superseded_signups")
    op.drop_index(op.f("ix_customer_aliases_customer_id"), table_name="customer_aliases")
    op.drop_table("customer_aliases")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_column("public_signups")
