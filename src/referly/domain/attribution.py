"""Who is credited with a new customer: the rules, as pure functions. No I/O here.

The services (`referly.domain.customers`) fetch the facts these rules need — the referral
link a key or partner names, the visitor's clicks on it inside the cookie window — and every
door (the REST API, the public sign-up path, the CLI) goes through them, so a rule changed
here changes everywhere at once.

The browser script applies the cookie's share of the same rules in the visitor's browser
(`referly.domain.cookies` holds their reference)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from referly.domain.keys import normalize_email
from referly.errors import InvalidPartnerKey, ValidationFailed

API_SOURCE = "api"  # the merchant's server, authenticated by its token
PUBLIC_SOURCES = ("js", "universal")  # the browser script, anonymous
LAST_CLICK = "last_click"
FIRST_CLICK = "first_click"
ATTRIBUTION_RULES = (LAST_CLICK, FIRST_CLICK)
SELF_REFERRAL = "self_referral"


@dataclass(frozen=True, slots=True)
class NamedLink:
    """A referral link and the partner it belongs to, as the program holds them."""

    link_id: int
    partner_id: int
    partner_key: str
    partner_email_ci: str


@dataclass(frozen=True, slots=True)
class VisitorClicks:
    """The visitor's first and latest click on a link inside the cookie window (ids)."""

    first: int | None = None
    last: int | None = None


NO_CLICKS = VisitorClicks()


@dataclass(frozen=True, slots=True)
class Credit:
    """What a new customer is credited to. A held-back customer (a self-referral) is credited
    to nobody and keeps, for review, the partner it would have credited."""

    partner_id: int | None = None
    partner_key: str | None = None
    referral_link_id: int | None = None
    click_id: int | None = None
    flag: str | None = None
    flagged_partner_id: int | None = None


NOBODY = Credit()


def require_partner(program_type: str, partner_named: bool, referral_url_given: bool) -> None:
    """An affiliate program credits every customer to a partner, so it needs one named; a
    referral URL only picks among a named partner's links."""
    if partner_named:
        return
    if program_type == "affiliate":
        raise ValidationFailed.field("partner", "The partner field is required.")
    if referral_url_given:
        raise ValidationFailed.field(
            "partner", "The partner field is required with options.referral_url."
        )


def named_link(found: NamedLink | None) -> NamedLink:
    """The link a request named; `Invalid partner key` when the program has none such."""
    if found is None:
        raise InvalidPartnerKey()
    return found


def link_of_referral_url(partner: NamedLink, url_link: NamedLink | None) -> NamedLink:
    """`options.referral_url` picks which of the partner's links gets the credit; a URL that is
    not one of that partner's links is refused."""
    if url_link is None or url_link.partner_id != partner.partner_id:
        raise ValidationFailed.field(
            "options.referral_url", "The referral URL is not one of the partner's links."
        )
    return url_link


def window_start(now: datetime, cookie_days: int) -> datetime:
    """The oldest click that can still count: the cookie that carried it lives this long."""
    return now - timedelta(days=cookie_days)


def click_credited(clicks: VisitorClicks, rule: str) -> int | None:
    """The click a sign-up came through: the visitor's first under first-click attribution,
    else the latest."""
    return clicks.first if rule == FIRST_CLICK else clicks.last


def is_self_referral(partner_email_ci: str, customer_key: str, customer_email: str | None) -> bool:
    """A partner signing up through their own link: their email as the customer's email, or
    as its key."""
    own = {normalize_email(customer_key)}
    if customer_email:
        own.add(normalize_email(customer_email))
    return partner_email_ci in own


def credit(
    link: NamedLink | None,
    customer_key: str,
    customer_email: str | None,
    clicks: VisitorClicks = NO_CLICKS,
    rule: str = LAST_CLICK,
) -> Credit:
    """The credit of a new customer that came through `link` (None: nobody referred it). A
    self-referral earns nothing: the customer is kept, credited to nobody, and flagged with
    the partner it would have credited, so the program owner can review it."""
    if link is None:
        return NOBODY
    click_id = click_credited(clicks, rule)
    if is_self_referral(link.partner_email_ci, customer_key, customer_email):
        return Credit(click_id=click_id, flag=SELF_REFERRAL, flagged_partner_id=link.partner_id)
    return Credit(link.partner_id, link.partner_key, link.link_id, click_id)


def supersedes(new_source: str, existing_source: str | None) -> bool:
    """An authenticated report of a customer (the merchant's server, `api`) outranks an
    anonymous public one (the browser script) that came first: anyone can send the public
    report with any key, so only the server's decides who is credited. Between two reports of
    the same rank, the first stands."""
    return new_source == API_SOURCE and existing_source in PUBLIC_SOURCES


def credit_after_change(
    credited: Credit, customer_key: str, customer_email: str | None, partner_email_ci: str
) -> Credit:
    """A credited customer whose key or email changed into its own partner's loses the credit,
    as if it had signed up that way."""
    if credited.partner_id is None or not is_self_referral(
        partner_email_ci, customer_key, customer_email
    ):
        return credited
    return Credit(
        click_id=credited.click_id, flag=SELF_REFERRAL, flagged_partner_id=credited.partner_id
    )
