"""Every model module, imported in one place so Alembic and tests see the whole schema."""

from portal.accounts.models import LoginSession, PasswordResetToken, Role, User
from portal.api.models import ApiToken
from portal.follows.models import (
    FollowSettings,
    FollowUpdate,
    NeedFollow,
    NeedPublication,
    SavedSearch,
    SavedSearchMatch,
)
from portal.introductions.models import Introduction, IntroductionEvent, IntroState
from portal.mail.models import OutboxMessage
from portal.matching.models import DismissalReason, LeadDismissal, LeadVector
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant
from portal.needs.models import Need, NeedStatus
from portal.notices.models import NoticeAmendment, NoticeDocument, NoticeQuestion
from portal.notifications.models import (
    DigestItem,
    LeadAlertState,
    NotificationMute,
    NotificationPreference,
)
from portal.organizations.models import (
    Capability,
    Contact,
    Organization,
    OrganizationKind,
    OrganizationReview,
    VerificationStatus,
)
from portal.outbox import IndexEvent
from portal.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiToken",
    "Capability",
    "Contact",
    "DigestItem",
    "DismissalReason",
    "FollowSettings",
    "FollowUpdate",
    "IndexEvent",
    "IntroState",
    "Introduction",
    "IntroductionEvent",
    "LeadAlertState",
    "LeadDismissal",
    "LeadVector",
    "LoginSession",
    "Meeting",
    "MeetingRequest",
    "MissionEvent",
    "Need",
    "NeedFollow",
    "NeedPublication",
    "NeedStatus",
    "NoticeAmendment",
    "NoticeDocument",
    "NoticeQuestion",
    "NotificationMute",
    "NotificationPreference",
    "Organization",
    "OrganizationKind",
    "OrganizationReview",
    "OutboxMessage",
    "Participant",
    "PasswordResetToken",
    "Role",
    "SavedSearch",
    "SavedSearchMatch",
    "User",
    "VerificationStatus",
    "WebhookDelivery",
    "WebhookEndpoint",
]
