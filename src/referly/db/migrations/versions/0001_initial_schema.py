"""initial schema

Revision ID: 0001
Revises:

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("website", sa.String(length=2048), nullable=True),
        sa.Column("url_params", sa.JSON(), nullable=False),
        sa.Column("cookie_lifetime_days", sa.Integer(), nullable=False),
        sa.Column("cookie_domain", sa.String(length=255), nullable=False),
        sa.Column("attribution", sa.String(length=16), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("public_id", name=op.f("uq_programs_public_id")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_api_tokens_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_tokens_prefix")),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("key_ci", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_ci", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("surname", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_partners_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("program_id", "email_ci", name=op.f("uq_partners_program_id_email_ci")),
        sa.UniqueConstraint("program_id", "key_ci", name=op.f("uq_partners_program_id_key_ci")),
        sa.UniqueConstraint(
            "program_id", "public_id", name=op.f("uq_partners_program_id_public_id")
        ),
    )
    op.create_table(
        "referral_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("key_ci", sa.String(length=64), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_referral_links_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_referral_links_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_links")),
        sa.UniqueConstraint(
            "program_id", "key_ci", name=op.f("uq_referral_links_program_id_key_ci")
        ),
    )
    with op.batch_alter_table("referral_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_links_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("referral_link_id", sa.Integer(), nullable=True),
        sa.Column("landing_url", sa.Text(), nullable=True),
        sa.Column("referrer", sa.Text(), nullable=True),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_clicks_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_clicks_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_link_id"],
            ["referral_links.id"],
            name=op.f("fk_clicks_referral_link_id_referral_links"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clicks")),
    )
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clicks_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(
            "ix_clicks_program_id_created_at", ["program_id", "created_at"], unique=False
        )

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("email_ci", sa.String(length=254), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("surname", sa.String(length=255), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("referral_link_id", sa.Integer(), nullable=True),
        sa.Column("click_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["click_id"],
            ["clicks.id"],
            name=op.f("fk_customers_click_id_clicks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_customers_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
            name=op.f("fk_customers_program_id_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_link_id"],
            ["referral_links.id"],
            name=op.f("fk_customers_referral_link_id_referral_links"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "program_id", "email_ci", name=op.f("uq_customers_program_id_email_ci")
        ),
        sa.UniqueConstraint("program_id", "key", name=op.f("uq_customers_program_id_key")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customers_program_id_partner_id", ["program_id", "partner_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_program_id_partner_id")

    op.drop_table("customers")
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_clicks_program_id_created_at")
        batch_op.drop_index(batch_op.f("ix_clicks_partner_id"))

    op.drop_table("clicks")
    with op.batch_alter_table("referral_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_links_partner_id"))

    op.drop_table("referral_links")
    op.drop_table("partners")
    op.drop_table("api_tokens")
    op.drop_table("programs")
