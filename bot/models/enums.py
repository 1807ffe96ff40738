"""The values a status or kind column may hold (stored as these strings)."""
from __future__ import annotations

import enum



class PermissionLevel(str, enum.Enum):
    BASIC = "basic"
    ENHANCED = "enhanced"


class Provider(str, enum.Enum):
    GMAIL = "gmail"
    GRAPH = "graph"
    SMTP_IMAP = "smtp_imap"
    SANDBOX = "sandbox"


class MailboxStatus(str, enum.Enum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class DelegationStatus(str, enum.Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"


class AddressKind(str, enum.Enum):
    WORK = "work"
    PERSONAL = "personal"
    OTHER = "other"


class SendPreference(str, enum.Enum):
    STARTED = "started"  # "When the campaign is started" (default)
    SPECIFIC = "specific"
    BEST = "best"


class CampaignStatus(str, enum.Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # started, first sends not yet due (the 20-minute grace)
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"


class ShareLevel(str, enum.Enum):
    VIEW = "view"  # sees the campaign as its owner does, minus addresses the owner added by hand
    EDIT = "edit"  # also starts, pauses, resumes and changes candidates


class PauseReason(str, enum.Enum):
    BY_USER = "by_user"
    MAILBOX_DISCONNECTED = "mailbox_disconnected"
    NEEDS_RECONNECT = "needs_reconnect"
    DELEGATION_REVOKED = "delegation_revoked"


class EnrollmentStatus(str, enum.Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    OUT_OF_OFFICE = "out_of_office"  # an auto-reply arrived; the sequence goes on
    PAUSED = "paused"
    REPLIED = "replied"  # ended
    BOUNCED = "bounced"  # ended
    FINISHED = "finished"  # ended: every step sent, no reply
    REMOVED = "removed"  # ended: the recruiter took them out of the campaign; their history stays
    COMPLAINED = "complained"  # ended: they reported our email as spam or abuse (final)
    DO_NOT_CONTACT = "do_not_contact"  # ended: an address of theirs is on the do-not-contact list (final)

    @property
    def sends(self) -> bool:
        """Whether steps may still be sent to this candidate."""
        return self in (self.NOT_STARTED, self.IN_PROGRESS, self.OUT_OF_OFFICE)


class OutboundStatus(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"  # intent recorded, provider called: reconcile after a crash, never resend
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the enrollment ended or paused before this step was due


class OutboundKind(str, enum.Enum):
    CAMPAIGN = "campaign"  # a step of an enrollment, planned by the planner
    ONE_OFF = "one_off"  # `/outreach send`: one email to one candidate, sent now
    PREVIEW = "preview"  # `/outreach preview`: a step of a sequence, to the recruiter's own address




class DoNotContactSource(str, enum.Enum):
    """How an entry reached the do-not-contact list (bot.services.do_not_contact)."""
    COMMAND = "command"  # `/outreach dnc add`
    REPLY_BUTTON = "reply_button"  # "Do not contact" on a reply DM
    CSV = "csv"  # a file of addresses
    OPT_OUT_REPLY = "opt_out_reply"  # a reply asking to stop, with the organisation's automatic setting
    UNSUBSCRIBE = "unsubscribe"  # the opt-out link or List-Unsubscribe-Post (RFC 8058)
    COMPLAINT = "complaint"  # an abuse or feedback report


class EngagementRule(str, enum.Enum):
    """What the organisation does when a candidate is a teammate's (rules of engagement)."""
    WARN = "warn"
    BLOCK = "block"
