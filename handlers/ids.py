"""Every action_id and callback_id, in one place, so handlers and views never disagree."""
from __future__ import annotations

from enum import Enum


class Callback(str, Enum):
    CONNECT_MAILBOX = "mailbox.connect"
    CONNECT_OTHER = "mailbox.connect_other"
    MAILBOX_LIMITS = "mailbox.limits"  # private_metadata: the mailbox id
    # sequences (handlers/sequences.py)
    SEQUENCE_EDIT = "sequence.edit"
    # preview and one-off sends (handlers/sending.py)
    PREVIEW = "send.preview"
    SEND_ONE = "send.one"
    # campaigns (handlers/campaigns.py)
    CAMPAIGN_NEW = "campaign.new"
    CANDIDATES_ADD = "campaign.candidates"
    CANDIDATE_EDIT = "campaign.candidate"
    RESUME = "campaign.resume"
    # managing campaigns (handlers/campaign_manage.py)
    CANDIDATE_REMOVE = "campaign.candidate_remove"  # the confirm of "Remove from campaign"; metadata: the enrollment id
    CAMPAIGN_EDIT = "campaign.edit"  # handlers/campaign_edit.py; private_metadata: the campaign id
    DNC_IMPORT = "dnc.import"  # handlers/do_not_contact.py: a CSV of addresses for the do-not-contact list
    # rules of engagement and the organisation's protection settings
    ENGAGEMENT_OVERRIDE = "engagement.override"  # private_metadata: an OverrideTarget (handlers/engagement.py)
    PROTECTION = "admin.protection"  # the admins' settings modal (handlers/protection_settings.py)
    OPEN_TRACKING = "admin.tracking"  # the admins' open-tracking modal (handlers/open_tracking.py)


class Action(str, Enum):
    OPEN_CONNECT = "mailbox.open_connect"
    PROVIDER = "mailbox.provider"
    ADDRESS = "mailbox.address"
    SIGN_IN = "mailbox.sign_in"  # a link button to the OAuth start page: only acknowledged
    OPEN_OTHER = "mailbox.open_other"
    RECONNECT = "mailbox.reconnect"
    DISCONNECT = "mailbox.disconnect"
    RESUME_ALL = "mailbox.resume_all"
    FIELD = "mailbox.field"  # the single input of each block in the SMTP/IMAP form and the limits modal
    MAILBOX_SETTINGS = "mailbox.settings"  # value: the mailbox id
    # sequences
    SEQUENCE_FIELD = "sequence.field"  # the single input of each block in the sequence modal
    SEQUENCE_ADD_STEP = "sequence.add_step"
    SEQUENCE_REMOVE_STEP = "sequence.remove_step"  # value: the step number
    SEQUENCE_OPEN_EDIT = "sequence.open_edit"  # value: the sequence id
    SEQUENCE_DELETE = "sequence.delete"  # value: the sequence id
    # preview and one-off sends
    SEND_FIELD = "send.field"
    # campaigns
    CAMPAIGN_FIELD = "campaign.field"
    CAMPAIGN_START = "campaign.start"  # value: the campaign id, on every campaign button
    CAMPAIGN_PAUSE = "campaign.pause"
    CAMPAIGN_RESUME = "campaign.resume"
    CAMPAIGN_ADD_CANDIDATES = "campaign.add_candidates"
    CAMPAIGN_EDIT = "campaign.open_edit"  # the Edit button (handlers/campaign_edit.py)
    CAMPAIGN_PAGE = "campaign.page"  # value: "<campaign id>:<page>"
    UPLOAD_CONFIRM = "campaign.upload_confirm"  # value: "<upload id>:<campaign id>" (one campaign to offer)
    UPLOAD_CHOOSE = "campaign.upload_choose"  # a select of campaigns; option values as UPLOAD_CONFIRM's
    UPLOAD_DISCARD = "campaign.upload_discard"  # value: the upload id
    ENGAGEMENT_OVERRIDE = "engagement.override_pick"  # a select of held-back rows; option values: an OverrideTarget
    PROTECTION_FIELD = "admin.protection_field"  # the single input of each block of the protection modal
    OPEN_TRACKING_FIELD = "admin.tracking_field"  # the checkbox of the open-tracking modal
    CAMPAIGN_LIST_PAGE = "campaign.list_page"  # + ".previous" / ".next"; value: the offset (re-checked)
    CANDIDATE_PAUSE = "campaign.candidate_pause"  # value: the enrollment id
    CANDIDATE_RESUME = "campaign.candidate_resume"
    CANDIDATE_OPEN_EDIT = "campaign.candidate_open_edit"
    # replies (value: the inbound event id)
    REPLY_HANDLED = "reply.handled"
    REPLY_WAS_AUTO = "reply.was_auto_reply"
    AUTO_WAS_REPLY = "reply.was_real_reply"
    REPLY_DO_NOT_CONTACT = "reply.do_not_contact"
    # delegation (value: the delegation id; "<id>:<mailbox id>" once the manager picks a mailbox)
    DELEGATION_APPROVE = "delegation.approve"
    DELEGATION_APPROVE_NOTIFY = "delegation.approve_notify"  # approve, and hear of replies too
    DELEGATION_DENY = "delegation.deny"
    DELEGATION_REVOKE = "delegation.revoke"
    DELEGATION_REPLIES = "delegation.replies"  # value "<id>:on" or "<id>:off"
    SHARE_REVOKE = "campaign.share_revoke"  # value: "<campaign id>:<user id>"
    CANDIDATE_MENU = "campaign.candidate_menu"  # overflow; option values "pause:<id>", "resume:<id>", "edit:<id>", "remove:<id>"
    # managing campaigns (handlers/campaign_manage.py)
    CAMPAIGN_ARCHIVE = "campaign.archive"  # value: the campaign id
    CAMPAIGN_DELETE = "campaign.delete"  # value: the campaign id (a draft's)
    CAMPAIGN_LIST_FILTER = "campaign.list_filter"  # a select on the campaign list; option values "<status>" or "all"
    DNC_FIELD = "dnc.field"  # the single input of each block in the do-not-contact import modal


class Block(str, Enum):
    PROVIDER = "provider"
    ADDRESS = "address"
    USERNAME = "username"
    PASSWORD = "password"
    SMTP_HOST = "smtp_host"
    SMTP_PORT = "smtp_port"
    SMTP_SECURITY = "smtp_security"
    IMAP_HOST = "imap_host"
    IMAP_PORT = "imap_port"
    DAILY_CAP = "daily_cap"  # as set_limits names its fields
    MIN_SPACING = "min_spacing_seconds"
