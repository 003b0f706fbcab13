"""Referral link request and response bodies."""

from referly.api.schemas.common import PartnerRefIn, WireOut
from referly.db.models import Program, ReferralLink
from referly.domain.fields import ReferralKey, WireIn
from referly.domain.links import link_url
from referly.domain.partners import PartnerRef


class ReferralLinkCreateIn(WireIn):
    """An extra referral link for a partner."""

    partner: PartnerRefIn
    """The partner the link credits."""
    key: ReferralKey
    """The link's key, the value its URL carries (`?aff=KEY`): letters, digits, `-`, `_` and
    `.`, compared without case; unique among all the program's partner keys and links."""

    def owner(self) -> PartnerRef:
        return PartnerRef(key=self.partner.key, id=self.partner.id, email=self.partner.email)


class ReferralLinkOut(WireOut):
    """A partner's referral link (Partnero's link object)."""

    id: str
    """The link's key: a link is addressed by its key."""
    key: str
    """The value the link's URL carries."""
    url: str
    """The link itself, on the program's website."""
    default: bool
    """Whether this is the partner's default link (the one with the partner's own key)."""
    is_additional: bool
    """Whether this is an extra link (not the default)."""
    direct_tracking: bool
    """Partnero's direct tracking; always false here."""
    direct_tracking_redirect: bool
    """Partnero's direct tracking redirect; always false here."""
    direct_tracking_redirect_url: str | None
    """Partnero's direct tracking redirect URL; always null here."""


def referral_link_out(program: Program, link: ReferralLink) -> ReferralLinkOut:
    return ReferralLinkOut(
        id=link.key,
        key=link.key,
        url=link_url(program, link.key),
        default=link.is_default,
        is_additional=not link.is_default,
        direct_tracking=False,
        direct_tracking_redirect=False,
        direct_tracking_redirect_url=None,
    )
