"""A small facade over the Web API: features say what they want shown, never which method."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.services.directory import Profile

MESSAGE_BLOCK_LIMIT = 50  # slack_sdk.models checks views (100) but not messages: guard it here


def _blocks(blocks: Sequence[Block] | None) -> list[dict[str, Any]] | None:
    if blocks is None:
        return None
    if len(blocks) > MESSAGE_BLOCK_LIMIT:
        raise ValueError(f"{len(blocks)} blocks: a message holds at most {MESSAGE_BLOCK_LIMIT}")
    return [b.to_dict() for b in blocks]


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "")


class NotAPerson(Exception):
    """Someone named in a command is not a person the bot can work with. `why`: "unknown" (Slack
    knows no such user: users.info user_not_found / user_not_visible), "deactivated", or "app"."""

    def __init__(self, user_id: str, why: str, name: str = "") -> None:
        super().__init__(f"{user_id}: {why}")
        self.user_id, self.why, self.name = user_id, why, name


class Slack:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def profile(self, user_id: str) -> Profile:
        return _profile(user_id, self.client.users_info(user=user_id)["user"])

    def person(self, user_id: str) -> Profile:
        """The profile of a person someone named (a mention): NotAPerson when Slack knows no such
        user, or it is an app or a deactivated account."""
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if _error(exc) in ("user_not_found", "user_not_visible"):
                raise NotAPerson(user_id, "unknown") from None
            raise
        profile = _profile(user_id, user)
        if user.get("deleted"):
            raise NotAPerson(user_id, "deactivated", profile.name)
        if not profile.is_person:
            raise NotAPerson(user_id, "app", profile.name)
        return profile

    def bot_is_in(self, channel: str) -> bool:
        """Whether the bot is a member of a channel. A private channel it is not in is invisible to
        it (channel_not_found), which means the same: it must be invited first."""
        try:
            return bool(self.client.conversations_info(channel=channel)["channel"].get("is_member"))
        except SlackApiError as exc:
            if _error(exc) == "channel_not_found":
                return False
            raise

    def dm_channel(self, user_id: str) -> str:
        return self.client.conversations_open(users=user_id)["channel"]["id"]

    def send_dm(self, user_id: str, text: str, blocks: Sequence[Block] | None = None) -> str:
        return self.post(self.dm_channel(user_id), text, blocks)

    def post(self, channel: str, text: str, blocks: Sequence[Block] | None = None,
             thread_ts: str | None = None) -> str:
        return self.client.chat_postMessage(channel=channel, text=text, blocks=_blocks(blocks),
                                            thread_ts=thread_ts)["ts"]

    def update(self, channel: str, ts: str, text: str, blocks: Sequence[Block] | None = None) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=_blocks(blocks))

    def update_if_there(self, channel: str, ts: str, text: str, blocks: Sequence[Block] | None = None) -> bool:
        """chat.update; False when the message is gone (someone deleted it: message_not_found)."""
        try:
            self.update(channel, ts, text, blocks)
        except SlackApiError as exc:
            if _error(exc) == "message_not_found":
                return False
            raise
        return True

    def delete(self, channel: str, ts: str) -> None:
        """Remove one of the bot's own messages; one already gone is no error."""
        try:
            self.client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            if _error(exc) != "message_not_found":
                raise

    def tell(self, channel: str, user_id: str, text: str, blocks: Sequence[Block] | None = None) -> None:
        """An ephemeral message: only this person sees it."""
        self.client.chat_postEphemeral(channel=channel, user=user_id, text=text, blocks=_blocks(blocks))

    def open_modal(self, trigger_id: str, view: View) -> str:
        return self.client.views_open(trigger_id=trigger_id, view=view)["view"]["id"]

    def push_modal(self, trigger_id: str, view: View) -> str:
        return self.client.views_push(trigger_id=trigger_id, view=view)["view"]["id"]

    def update_modal(self, view_id: str, view: View, *, hash: str | None = None) -> None:
        """Redraw an open modal; with `hash`, Slack refuses if it changed meanwhile (a double click)."""
        self.client.views_update(view_id=view_id, view=view, hash=hash)

    def upload_file(self, content: bytes, filename: str, *, title: str, alt_txt: str | None = None,
                    channel: str | None = None, initial_comment: str | None = None) -> str:
        """files_upload_v2 (files.getUploadURLExternal, the bytes, files.completeUploadExternal):
        without `channel` the file stays private to the bot. Returns the file id."""
        answer = self.client.files_upload_v2(content=content, filename=filename, title=title, alt_txt=alt_txt,
                                             channel=channel, initial_comment=initial_comment)
        return str(answer["file"]["id"])

    def delete_file(self, file_id: str) -> bool:
        """files.delete; False when the file is already gone."""
        try:
            self.client.files_delete(file=file_id)
        except SlackApiError as exc:
            if _error(exc) in ("file_not_found", "file_deleted"):
                return False
            raise
        return True

    def publish_home(self, user_id: str, view: View) -> None:
        self.client.views_publish(user_id=user_id, view=view)


def _profile(user_id: str, user: dict[str, Any]) -> Profile:
    profile = user.get("profile", {})
    return Profile(
        slack_user_id=user_id,
        name=profile.get("real_name") or user.get("real_name") or user.get("name", ""),
        email=profile.get("email"),
        tz=user.get("tz") or "UTC",
        is_admin=bool(user.get("is_admin") or user.get("is_owner")),
        is_person=not (user.get("is_bot") or user.get("deleted") or user_id == "USLACKBOT"),
    )
