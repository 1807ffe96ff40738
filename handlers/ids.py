"""Every action_id and callback_id, in one place, so handlers and views never disagree."""
from __future__ import annotations

from enum import Enum


class Callback(str, Enum):
    CONNECT_MAILBOX = "mailbox.connect"


class Action(str, Enum):
    OPEN_CONNECT = "mailbox.open_connect"
    PROVIDER = "mailbox.provider"
    ADDRESS = "mailbox.address"


class Block(str, Enum):
    PROVIDER = "provider"
    ADDRESS = "address"
