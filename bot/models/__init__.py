"""The data model: bot.models.X for every model and enumeration, wherever it is defined.

`base` (the declarative base, UTC timestamps, stored enumerations), `enums`, `accounts`
(organisations, users, mailboxes, delegations, sign-ins), `campaigns` (candidates, sequences,
campaigns, enrollments, uploads), `mail` (sends, one-off sends, inbound events, channel alerts, send
counts), `notices` (notices for people, the audit log).
"""
from __future__ import annotations

from bot.models.accounts import Delegation, Mailbox, OAuthState, Organisation, User
from bot.models.base import Base, Id, NAMING, UTCDateTime
from bot.models.campaigns import (
    Campaign,
    CampaignShare,
    Candidate,
    CandidateAddress,
    CandidateUpload,
    DoNotContact,
    Enrollment,
    Sequence,
    SequenceStep,
)
from providers.base import InboundKind  # kept beside the classifier: providers import nothing of the app
from bot.models.enums import (
    AddressKind,
    CampaignStatus,
    DelegationStatus,
    DoNotContactSource,
    EngagementRule,
    EnrollmentStatus,
    MailboxStatus,
    OutboundKind,
    OutboundStatus,
    PauseReason,
    PermissionLevel,
    Provider,
    SendPreference,
    ShareLevel,
)
from bot.models.mail import DirectMessage, EmailOpen, InboundEvent, MailboxSendCount, OutboundMessage
from bot.models.notices import AuditEntry, ChannelAlert, Notification, ResultChart

__all__ = ["AddressKind", "AuditEntry", "Base", "Campaign", "CampaignShare", "CampaignStatus", "Candidate",
           "CandidateAddress", "CandidateUpload", "ChannelAlert", "Delegation", "DelegationStatus",
           "DirectMessage", "DoNotContact", "EmailOpen", "DoNotContactSource", "EngagementRule", "Enrollment", "EnrollmentStatus", "Id", "InboundEvent", "InboundKind",
           "Mailbox", "MailboxSendCount", "MailboxStatus", "NAMING", "Notification", "OAuthState",
           "Organisation", "OutboundKind", "OutboundMessage", "OutboundStatus", "PauseReason", "PermissionLevel",
           "Provider", "ResultChart", "SendPreference", "Sequence", "SequenceStep", "ShareLevel", "UTCDateTime", "User"]
