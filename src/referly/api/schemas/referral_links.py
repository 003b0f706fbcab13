"""Referral link request and response bodies."""

from pydantic import BaseModel

from referly.api.schemas.common import PartnerRefIn
from referly.db.models import Program, ReferralLink
from referly.domain.fields import ReferralKey, WireIn
from referly.domain.links import link_url
from referly.domain.partners import PartnerRef


class ReferralLinkCreateIn(WireIn):
    partner: PartnerRefIn
    key: ReferralKey

    def owner(self) -> PartnerRef:
        return PartnerRef(key=self.partner.key, id=self.partner.id, email=self.partner.email)


class ReferralLinkOut(BaseModel):
    """Partnero's link object; a link is addressed by its key, so `id` is the key too."""

    id: str
    key: str
    url: str
    default: bool
    is_additional: bool
    direct_tracking: bool
    direct_tracking_redirect: bool
    direct_tracking_redirect_url: str | None


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
