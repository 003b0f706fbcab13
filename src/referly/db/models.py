"""Tables. Uniqueness rules of the spec live here as constraints, so the database enforces
them even under concurrent requests. Case-insensitive uniqueness uses `*_ci` columns holding
the lower-cased value, which works identically on SQLite and PostgreSQL."""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text, UniqueConstraint, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from referly.db.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))  # "affiliate" | "referral"
    website: Mapped[str | None] = mapped_column(String(2048))
    url_params: Mapped[list[str]]  # query parameters that carry a referral key
    cookie_lifetime_days: Mapped[int] = mapped_column(default=30)
    cookie_domain: Mapped[str] = mapped_column(String(255), default="auto")
    attribution: Mapped[str] = mapped_column(String(16), default="last_click")
    allowed_origins: Mapped[list[str]]
    # False: sign-ups come from the merchant's server only (`POST /v1/customers`); the public
    # sign-up endpoint refuses them.
    public_signups: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole token
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Partner(Base):
    __tablename__ = "partners"
    __table_args__ = (
        UniqueConstraint("program_id", "public_id"),
        UniqueConstraint("program_id", "key_ci"),
        UniqueConstraint("program_id", "email_ci"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    public_id: Mapped[str] = mapped_column(String(64))  # the Partnero `id`
    key: Mapped[str] = mapped_column(String(64))
    key_ci: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))
    email_ci: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(255))
    surname: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    tags: Mapped[list[str]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReferralLink(Base):
    """Every referral key of a program: each partner's default link (key = the partner's key)
    and its extra links. One table gives partner keys and link keys a single namespace, so a
    landing key always names exactly one link."""

    __tablename__ = "referral_links"
    __table_args__ = (UniqueConstraint("program_id", "key_ci"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    key_ci: Mapped[str] = mapped_column(String(64))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Click(Base):
    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_program_id_created_at", "program_id", "created_at"),
        # A sign-up's click: the visitor's first or latest click on the link it came through.
        Index("ix_clicks_referral_link_id_visitor_id", "referral_link_id", "visitor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    referral_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral_links.id", ondelete="SET NULL")
    )
    landing_url: Mapped[str | None] = mapped_column(Text)
    referrer: Mapped[str | None] = mapped_column(Text)
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("program_id", "key"),
        UniqueConstraint("program_id", "email_ci"),
        Index("ix_customers_program_id_partner_id", "program_id", "partner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254))
    email_ci: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(255))
    surname: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[str]]
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    referral_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral_links.id", ondelete="SET NULL")
    )
    click_id: Mapped[int | None] = mapped_column(ForeignKey("clicks.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | js | universal
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Why a sign-up was held back from crediting, e.g. "self_referral" (a partner signing up
    # through their own link). The partner it would have credited is kept for review here,
    # never in `partner_id`, so no report or payout counts it.
    flag: Mapped[str | None] = mapped_column(String(32))
    flagged_partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL")
    )


class CustomerAlias(Base):
    """A key or email a customer had before it was changed: where its personal data may still
    be found (a stored answer to an idempotent request, say), so erasure finds it too."""

    __tablename__ = "customer_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    email_ci: Mapped[str | None] = mapped_column(String(254))


class SupersededSignup(Base):
    """An anonymous public sign-up whose customer the merchant's own server then reported: the
    server's report decided the credit; what the public one would have credited is kept here
    for the program owner to review."""

    __tablename__ = "superseded_signups"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    referral_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral_links.id", ondelete="SET NULL")
    )
    click_id: Mapped[int | None] = mapped_column(ForeignKey("clicks.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))  # js | universal
    signed_up_at: Mapped[datetime]  # when the public report came
    superseded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitTick(Base):
    """One row the group-commit writer updates when a batch would otherwise write nothing (an
    unknown referral key, a repeated sign-up), so that its commit waits for the disk as a
    batch with a row does: the answer's timing does not tell the two apart."""

    __tablename__ = "commit_ticks"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(default=0)


class IdempotencyKey(Base):
    """A POST's `Idempotency-Key` and the answer it got, so a retry gets the same answer
    instead of doing the work twice (see `referly.web.idempotency`)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("program_id", "key"),
        Index("ix_idempotency_keys_program_id_created_at", "program_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 hex of method, path, body
    response_status: Mapped[int | None]  # None while the first request is being answered
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
