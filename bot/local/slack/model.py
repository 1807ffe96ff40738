"""Plain records of what the local workspace holds and what happened in it.

They are snapshots: the workspace hands out copies, so a test can keep one and compare it
with a later state without it changing under its feet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """A Web API failure, answered as {"ok": false, "error": code} like Slack does."""

    def __init__(self, code: str, *messages: str) -> None:
        super().__init__(code if not messages else f"{code}: {'; '.join(messages)}")
        self.code = code
        self.messages = list(messages)


@dataclass
class User:
    id: str
    name: str
    real_name: str
    tz: str
    is_admin: bool = False
    email: str | None = None
    display_name: str = ""
    is_bot: bool = False
    deleted: bool = False  # a deactivated account: users.info still answers, with "deleted": true


@dataclass
class Channel:
    id: str
    name: str
    is_im: bool = False
    members: set[str] = field(default_factory=set)
    im_user: str | None = None  # the human side of a bot DM
    is_private: bool = False  # a private channel: invisible to the bot unless it is a member
    is_archived: bool = False


@dataclass
class Message:
    """A message in a channel, in its current state (after chat.update)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str  # who posted it
    thread_ts: str | None = None
    edited_ts: str | None = None  # set by chat.update / replace_original
    metadata: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)  # file objects as shared (Person.upload)

    def to_api(self, team_id: str, bot_id: str | None = None, app_id: str | None = None) -> dict[str, Any]:
        """The message object as Slack's API and interaction payloads show it."""
        out: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts, "team": team_id}
        if bot_id:
            out.update(bot_id=bot_id, app_id=app_id)
        if self.blocks:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edited_ts:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.metadata:
            out["metadata"] = self.metadata
        if self.files:
            out.update(files=self.files, upload=True, display_as_bot=False)
        return out


@dataclass
class File:
    """A file stored in the workspace; `LocalSlack.file()` shows it as Slack's file object."""

    id: str
    name: str
    title: str
    filetype: str
    pretty_type: str
    mimetype: str
    content: bytes
    user: str  # who uploaded it
    created: int
    shares: list[tuple[str, str]] = field(default_factory=list)  # (channel id, message ts), oldest first


@dataclass
class Ephemeral:
    """A message only `user` sees (chat.postEphemeral, a slash-command ack, a response_url reply)."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    source: str  # "chat.postEphemeral" | "slash_ack" | "response_url"
    thread_ts: str | None = None


@dataclass
class Call:
    """One Web API call the workspace received (token removed)."""

    method: str
    params: dict[str, Any]
    ok: bool
    error: str | None = None
    response: dict[str, Any] | None = None


@dataclass(frozen=True)
class Activity:
    """One visible event, in order, for a demo transcript: what someone did or saw.

    kind is one of: "command", "click", "submit", "home_opened", "upload" (a person acted; an upload's
    data holds the shared "file" and the "message" that carries it);
    "message", "message_updated", "message_deleted", "ephemeral", "view_opened",
    "view_pushed", "view_updated", "view_closed", "home_published" (what people see).
    `user` is the person who acted or the only person who sees it; `channel` where relevant.
    """

    seq: int
    kind: str
    user: str | None
    channel: str | None
    text: str
    data: dict[str, Any]
