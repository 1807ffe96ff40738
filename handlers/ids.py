"""Every action_id and callback_id, in one place, so handlers and views never disagree."""
from __future__ import annotations

from enum import Enum


class Callback(str, Enum):
    CONNECT_MAILBOX = "mailbox.connect"
    CONNECT_OTHER = "mailbox.connect_other"


class Action(str, Enum):
    OPEN_CONNECT = "mailbox.open_connect"
    PROVIDER = "mailbox.provider"
    ADDRESS = "mailbox.address"
    SIGN_IN = "mailbox.sign_in"  # a link button to the OAuth start page: only acknowledged
    OPEN_OTHER = "mailbox.open_other"
    RECONNECT = "mailbox.reconnect"
    DISCONNECT = "mailbox.disconnect"
    RESUME_ALL = "mailbox.resume_all"
    FIELD = "mailbox.field"  # the single input of each block in the SMTP/IMAP form


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
