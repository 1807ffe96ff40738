"""LocalSlack: an in-process Slack workspace served over loopback HTTP.

The bot talks to it with the real slack_sdk WebClient (base_url=ws.api_url); people act
through `Person`, which signs requests into the bot's real Bolt request path. All state
sits behind one lock because the HTTP server answers on its own threads.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .files import FileStore
from .manifest import Manifest
from .model import Activity, ApiError, Call, Channel, Ephemeral, Message, User
from .ratelimits import RateLimiter
from .views import ViewStore

TRIGGER_TTL = 3.0  # seconds a trigger_id can be exchanged (Slack: 3 s)
RESPONSE_URL_TTL = 30 * 60.0  # response_url lifetime (Slack: 30 min)
RESPONSE_URL_USES = 5  # response_url uses (Slack: 5)


@dataclass
class _Trigger:
    user: str
    issued: float
    used: bool = False


@dataclass
class _Hook:
    """What a response_url answers for: a user in a channel, maybe about one message."""

    user: str
    channel: str
    message_ts: str | None
    ephemeral: bool
    issued: float
    uses: int = 0


class LocalSlack(ViewStore, FileStore):
    def __init__(
        self,
        team_id: str = "T0LOCAL",
        team_name: str = "Local Workspace",
        bot_user_id: str = "U0BOT",
        bot_token: str = "xoxb-local-0000",
        signing_secret: str = "local-signing-secret",
        monotonic: Callable[[], float] = time.monotonic,
        *,
        wallclock: Callable[[], float] = time.time,
        app_id: str = "A0LOCAL",
        bot_id: str = "B0LOCAL",
        bot_name: str = "outreach",
        verification_token: str = "local-verification-token",
        manifest: Mapping[str, Any] | str | Path | None = None,
    ) -> None:
        """`monotonic` measures trigger_id / response_url lifetimes, ack timeouts and rate-limit
        windows; `wallclock` gives message ts and event times. `manifest` is the app as installed
        (a dict or a YAML path; default: this project's manifest.yml): its scopes, events, slash
        command escaping and Messages tab settings are enforced (see manifest.py)."""
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = re.sub(r"[^a-z0-9]+", "-", team_name.lower()).strip("-") or "local"
        self.bot_user_id = bot_user_id
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.monotonic = monotonic  # trigger_id / response_url expiry, ack timeouts, rate limits
        self.wallclock = wallclock  # message ts, event_time, tz offsets
        self.app_id = app_id
        self.bot_id = bot_id
        self.verification_token = verification_token
        self.manifest = Manifest.load(manifest)
        self._limiter = RateLimiter(lambda: self.monotonic())
        self._lock = threading.RLock()
        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: list[Message] = []
        self._ephemerals: list[Ephemeral] = []
        self._calls: list[Call] = []
        self._activity: list[Activity] = []
        self._listeners: list[Callable[[Activity], None]] = []
        self._triggers: dict[str, _Trigger] = {}
        self._hooks: dict[str, _Hook] = {}
        self._init_views()
        self._init_files()
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.add_user(bot_user_id, name=bot_name, real_name=bot_name, tz="UTC", is_bot=True)

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> "LocalSlack":
        from .server import make_server  # the server imports webapi, which imports us

        if self._server is not None:
            return self
        self._server = make_server(self)
        # a short poll interval keeps stop() fast (shutdown waits for the next poll)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="localslack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "LocalSlack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalSlack is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        """What WebClient(base_url=...) wants: the trailing slash matters."""
        return f"{self.base_url}api/"

    # ---- setup -----------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str | None = None,
        tz: str = "UTC",
        is_admin: bool = False,
        email: str | None = None,
        *,
        display_name: str = "",
        is_bot: bool = False,
        deactivated: bool = False,
    ) -> User:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"tz must be an IANA time zone name, got {tz!r}") from None
        user = User(user_id, name, real_name or name, tz, is_admin, email, display_name, is_bot, deactivated)
        with self._lock:
            self._users[user_id] = user
        return replace(user)

    def deactivate(self, user_id: str) -> None:
        """An admin deactivates the account: users.info still answers, with "deleted": true
        (https://api.slack.com/types/user), and conversations.open answers user_disabled (the
        OpenAPI description's conversations.open errors)."""
        with self._lock:
            self._require_user(user_id).deleted = True

    def add_channel(self, channel_id: str, name: str, members: Iterable[str] = (), *, bot_is_member: bool = True,
                    is_private: bool = False) -> Channel:
        """A channel. Without the bot as a member, posting to a public one fails with not_in_channel;
        a private one the bot is not in does not exist for it (channel_not_found)."""
        with self._lock:
            for member in members:
                self._require_user(member)
            channel = Channel(channel_id, name.lstrip("#"), members=set(members), is_private=is_private)
            if bot_is_member:
                channel.members.add(self.bot_user_id)
            self._channels[channel_id] = channel
            return copy.deepcopy(channel)

    def archive(self, channel_id: str) -> None:
        with self._lock:
            self._channel_by_id(channel_id).is_archived = True

    def join(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            self._require_user(user_id)
            self._channel_by_id(channel_id).members.add(user_id)

    def add_message(self, channel_id: str, user_id: str, text: str, blocks: list[dict[str, Any]] | None = None,
                    thread_ts: str | None = None) -> Message:
        """Seed a message written by a person (the bot's own messages come through chat.postMessage)."""
        with self._lock:
            self._require_user(user_id)
            channel = self._channel_by_id(channel_id)
            message = Message(channel.id, self._next_ts(), text, copy.deepcopy(blocks or []), user_id, thread_ts)
            self._messages.append(message)
        self._record("message", user_id, channel.id, text, {"message": self._message_json(message)})
        return copy.deepcopy(message)

    def delete_message(self, channel_id: str, ts: str) -> None:
        """A message disappears without the bot asking: a retention policy removed it, or an admin
        did. The bot's chat.update of it then answers message_not_found."""
        with self._lock:
            message = self._find_message(channel_id, ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel_id}")
        self._delete_message(message)

    def dm_channel(self, user_id: str) -> str:
        """The bot's IM channel with this user ("D" + user id), created on demand."""
        with self._lock:
            self._require_user(user_id)
            channel_id = "D" + user_id
            if channel_id not in self._channels:
                self._channels[channel_id] = Channel(
                    channel_id, "directmessage", is_im=True, members={user_id, self.bot_user_id}, im_user=user_id
                )
            return channel_id

    def user(self, user_id: str) -> User:
        with self._lock:
            return replace(self._require_user(user_id))

    def channel(self, channel_id: str) -> Channel:
        with self._lock:
            return copy.deepcopy(self._channel_by_id(channel_id))

    # ---- observations ----------------------------------------------------------------
    def messages(self, channel: str | None = None) -> list[Message]:
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages if channel is None or m.channel == channel]

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._ephemerals if user is None or e.user == user]

    def home(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            view_id = self._homes.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def open_views(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self._views[v]) for v in self._stacks.get(user_id, [])]

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found else None

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def mark(self) -> int:
        """A bookmark into the activity log, for transcript_since()."""
        with self._lock:
            return len(self._activity)

    def transcript_since(self, mark: int = 0) -> list[Activity]:
        with self._lock:
            return list(self._activity[mark:])

    def subscribe(self, listener: Callable[[Activity], None]) -> Callable[[], None]:
        """Call `listener` for each new activity (on the thread that caused it). Returns unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.remove(listener)

        return unsubscribe

    @property
    def events(self) -> list[Activity]:
        """The whole activity log, oldest first (same as transcript_since(0))."""
        return self.transcript_since(0)

    def user_name(self, user_id: str) -> str | None:
        """For render_blocks(user_name=ws.user_name)."""
        with self._lock:
            user = self._users.get(user_id)
            return user.name if user else None

    def channel_name(self, channel_id: str) -> str | None:
        with self._lock:
            channel = self._channels.get(channel_id)
            return channel.name if channel else None

    def render_transcript(self, mark: int = 0) -> str:
        """The activity since `mark` as readable text: what each person did and saw."""
        from .render import render_activity

        return "\n".join(render_activity(a, self.user_name, self.channel_name) for a in self.transcript_since(mark))

    # ---- internals shared by webapi, server and person ---------------------------------
    def _record(self, kind: str, user: str | None, channel: str | None, text: str, data: dict[str, Any]) -> None:
        with self._lock:
            activity = Activity(len(self._activity), kind, user, channel, text, copy.deepcopy(data))
            self._activity.append(activity)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(activity)

    def _record_call(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _require_user(self, user_id: Any) -> User:
        user = self._users.get(user_id) if isinstance(user_id, str) else None
        if user is None:  # users.info, conversations.open, views.publish...: user_not_found (their errors in the description)
            raise ApiError("user_not_found")
        return user

    def _channel_by_id(self, channel_id: Any) -> Channel:
        if isinstance(channel_id, str) and channel_id.startswith("D") and channel_id[1:] in self._users:
            self.dm_channel(channel_id[1:])  # IMs exist for every user even before anyone opens them
        channel = self._channels.get(channel_id) if isinstance(channel_id, str) else None
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    def _channel_for_bot(self, channel_id: Any) -> Channel:
        """A channel as the bot's token sees it: a private channel it is not in is not there.
        (../shared/specs/slack_limits.json "private_channel_not_member_conversations_info";
        https://api.slack.com/methods/conversations.info, channel_not_found.)"""
        channel = self._channel_by_id(channel_id)
        if channel.is_private and self.bot_user_id not in channel.members:
            raise ApiError("channel_not_found")
        return channel

    def _resolve_channel(self, ref: Any) -> Channel:
        """chat.postMessage accepts a channel id, a user id (their DM) or a #name."""
        if isinstance(ref, str) and ref in self._users:
            return self._channels[self.dm_channel(ref)]
        if isinstance(ref, str) and not re.fullmatch(r"[CDG][A-Z0-9]+", ref):
            for channel in self._channels.values():
                if not channel.is_im and channel.name == ref.lstrip("#"):
                    return self._channel_for_bot(channel.id)
        return self._channel_for_bot(ref)

    def _user_json(self, user: User) -> dict[str, Any]:
        now = datetime.fromtimestamp(self.wallclock(), tz=timezone.utc).astimezone(ZoneInfo(user.tz))
        offset = now.utcoffset()
        abbreviation = now.tzname() or user.tz
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": _TZ_LABELS.get(abbreviation, abbreviation),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": int(self.wallclock()),
            "profile": {
                "real_name": user.real_name,
                "real_name_normalized": user.real_name,
                "display_name": user.display_name,
                "display_name_normalized": user.display_name,
                # only a token with users:read.email sees addresses (https://api.slack.com/scopes/users:read.email)
                **({"email": user.email} if user.email and "users:read.email" in self.manifest.bot_scopes else {}),
                **({"bot_id": self.bot_id} if user.id == self.bot_user_id else {}),
                "team": self.team_id,
            },
        }

    def _message_json(self, message: Message) -> dict[str, Any]:
        if message.user == self.bot_user_id:
            return message.to_api(self.team_id, self.bot_id, self.app_id)
        return message.to_api(self.team_id)

    def _next_ts(self) -> str:
        """Slack-style "seconds.micros" timestamps, strictly increasing."""
        with self._lock:
            now_us = int(self.wallclock() * 1_000_000)
            self._last_ts_us = max(self._last_ts_us + 1, now_us)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _new_id(self) -> str:
        """Short deterministic ids for generated block_id / action_id (Slack uses random ones)."""
        with self._lock:
            return hashlib.sha1(f"{self.team_id}:{next(self._ids)}".encode()).hexdigest()[:5]

    def _new_view_id(self) -> str:
        with self._lock:
            return "V" + hashlib.sha1(f"view:{next(self._ids)}".encode()).hexdigest()[:10].upper()

    def _new_hash(self) -> str:
        with self._lock:
            return f"{int(self.wallclock())}.{secrets.token_hex(4)}"

    def _issue_trigger(self, user_id: str) -> str:
        with self._lock:
            trigger_id = f"{next(self._ids)}.{int(self.wallclock())}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(user_id, self.monotonic())
            return trigger_id

    def _take_trigger(self, trigger_id: Any) -> str:
        """Exchange a trigger_id once, within 3 seconds; returns the user it belongs to."""
        with self._lock:
            trigger = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
            if trigger is None:
                raise ApiError("invalid_trigger_id")
            if trigger.used:
                raise ApiError("exchanged_trigger_id")
            if self.monotonic() - trigger.issued > TRIGGER_TTL:
                raise ApiError("expired_trigger_id")
            trigger.used = True
            return trigger.user

    def _issue_response_url(self, user: str, channel: str, message_ts: str | None = None, ephemeral: bool = False) -> str:
        with self._lock:
            token = secrets.token_urlsafe(18)
            self._hooks[token] = _Hook(user, channel, message_ts, ephemeral, self.monotonic())
            return f"{self.base_url}response/{token}"

    def _find_message(self, channel: str, ts: Any) -> Message | None:
        return next((m for m in self._messages if m.channel == channel and m.ts == ts), None)

    def _post_message(self, channel: Channel, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None,
                      metadata: dict[str, Any] | None = None) -> Message:
        message = Message(channel.id, self._next_ts(), text, blocks, self.bot_user_id, thread_ts, metadata=metadata)
        with self._lock:
            self._messages.append(message)
        self._record("message", channel.im_user, channel.id, text, {"message": self._message_json(message)})
        return message

    def _post_upload(self, channel: Channel, user: str, file_id: str, comment: str) -> tuple[Message, dict[str, Any]]:
        """A person shares a stored file into a channel: one message carrying it. Returns (message, file)."""
        with self._lock:
            ts = self._next_ts()
            self._share_file(file_id, channel.id, ts)
            shared = self.file(file_id)
            message = Message(channel.id, ts, comment, [], user, files=[shared])
            self._messages.append(message)
        data = {"file": shared, "message": self._message_json(message)}
        self._record("upload", user, channel.id, shared["name"], data)
        return copy.deepcopy(message), shared

    def _post_ephemeral(self, channel: str, user: str, text: str, blocks: list[dict[str, Any]], source: str,
                        thread_ts: str | None = None) -> Ephemeral:
        ephemeral = Ephemeral(channel, user, self._next_ts(), text, blocks, source, thread_ts)
        with self._lock:
            self._ephemerals.append(ephemeral)
        self._record("ephemeral", user, channel, text, {"text": text, "blocks": blocks, "source": source, "ts": ephemeral.ts})
        return ephemeral

    def _update_message(self, message: Message, text: str | None, blocks: list[dict[str, Any]] | None) -> None:
        with self._lock:
            if text is not None:
                message.text = text
            if blocks is not None:
                message.blocks = blocks
            message.edited_ts = self._next_ts()
        self._record("message_updated", None, message.channel, message.text, {"message": self._message_json(message)})

    def _delete_message(self, message: Message) -> None:
        with self._lock:
            self._messages.remove(message)
        self._record("message_deleted", None, message.channel, message.text, {"ts": message.ts})

    def _take_hook(self, token: str) -> _Hook:
        """Use a response_url: at most 5 times within 30 minutes, like Slack."""
        with self._lock:
            hook = self._hooks.get(token)
            if hook is None:
                raise ApiError("no_active_hooks")
            if self.monotonic() - hook.issued > RESPONSE_URL_TTL:
                raise ApiError("expired_url")
            if hook.uses >= RESPONSE_URL_USES:
                raise ApiError("used_url")
            hook.uses += 1
            return hook


_TZ_LABELS = {
    "EST": "Eastern Standard Time", "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time", "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time", "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time", "PDT": "Pacific Daylight Time",
    "GMT": "Greenwich Mean Time", "BST": "British Summer Time", "UTC": "Coordinated Universal Time",
    "CET": "Central European Time", "CEST": "Central European Summer Time",
    "IST": "India Standard Time", "JST": "Japan Standard Time",
}
