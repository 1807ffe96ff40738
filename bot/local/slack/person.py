"""Person: a human in the local workspace, acting on the bot the way Slack relays it.

Every action becomes the request Slack would send (same body shape, same content type,
a real v0 signature), goes through a Target into the bot, and the bot's ack is applied the
way Slack applies it (ephemeral slash replies, response_action on view submissions...).
Events (app_home_opened, file_shared) go through the Events API's event_callback envelope.
"""
from __future__ import annotations

import copy
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from . import forms
from .model import Ephemeral, Message, ApiError
from .signing import sign_request
from .targets import Target, TargetResponse
from .validation import check_message_content, check_view
from .workspace import LocalSlack

ACK_TIMEOUT = 3.0  # Slack gives an app 3 seconds to acknowledge


@dataclass
class Result:
    """What happened to one action: the bot's HTTP answer and what Slack made of it."""

    status: int
    body: str
    payload: dict[str, Any]
    ack: dict[str, Any] | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    errors: dict[str, str] | None = None  # view_submission response_action=errors
    timed_out: bool = False  # the ack took longer than 3 s: Slack ignored it
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.timed_out


class SharedFile(dict):  # type: ignore[type-arg]
    """What Person.upload returns: the file object itself (a dict, as files.info shows it just after
    the share), plus `.file` (a plain dict copy), `.message` (the message that carries it) and
    `.result` (the file_shared delivery to the bot; None when the bot is not in the channel, since
    Slack only tells apps about files they can see, or when the app did not subscribe to file_shared).
    """

    def __init__(self, file: dict[str, Any], message: Message, result: Result | None) -> None:
        super().__init__(file)
        self.message = message
        self.result = result

    @property
    def file(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self))


@dataclass
class _Surface:
    kind: str  # "view" | "home" | "message" | "ephemeral"
    blocks: list[dict[str, Any]]
    view: dict[str, Any] | None = None
    message: Message | None = None
    ephemeral: Ephemeral | None = None


class Person:
    def __init__(self, ws: LocalSlack, user_id: str, target: Target, *, signing_secret: str | None = None,
                 timestamp: int | None = None, team_id: str | None = None) -> None:
        """`signing_secret` / `timestamp` override what requests are signed with (forgery, replay tests);
        `team_id` makes the person a member of another workspace (as in a channel shared with another
        organisation, where Slack sends the person's own team)."""
        try:
            ws.user(user_id)
        except ApiError:
            raise ValueError(f"no user {user_id!r} in the workspace; add_user() first") from None
        self.ws = ws
        self.user_id = user_id
        self.target = target
        self.signing_secret = signing_secret
        self.timestamp = timestamp
        self.team_id = team_id or ws.team_id

    @property
    def name(self) -> str:
        return self.ws.user(self.user_id).name

    @property
    def dm(self) -> str:
        return self.ws.dm_channel(self.user_id)

    def dm_messages(self) -> list[Message]:
        return self.ws.messages(channel=self.dm)

    def ephemerals(self) -> list[Ephemeral]:
        return self.ws.ephemerals(user=self.user_id)

    # ---- actions ---------------------------------------------------------------------
    def slash(self, command: str, text: str = "", channel: str | None = None) -> Result:
        """Type `/command text` and send it. A person or channel picked from Slack's list as they
        type is written <@U123> / <#C123> in `text`; Slack passes it on as the command's
        should_escape says (see _as_sent)."""
        if not command.startswith("/"):
            raise ValueError(f"slash commands start with '/', got {command!r}")
        if command not in self.ws.manifest.commands:  # Slack routes only the app's declared commands
            raise AssertionError(f"the app has no {command} command "
                                 f"(its manifest lists {sorted(self.ws.manifest.commands)})")
        channel_obj = self._channel_i_can_see(channel or self.dm)
        text = self._as_sent(text, escape=self.ws.manifest.commands[command])
        trigger_id = self.ws._issue_trigger(self.user_id)
        response_url = self.ws._issue_response_url(self.user_id, channel_obj.id)
        fields = {
            "token": self.ws.verification_token,
            "team_id": self.team_id,
            "team_domain": self.ws.team_domain,
            "channel_id": channel_obj.id,
            "channel_name": channel_obj.name,
            "user_id": self.user_id,
            "user_name": self.name,
            "command": command,
            "text": text,
            "api_app_id": self.ws.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        self.ws._record("command", self.user_id, channel_obj.id, f"{command} {text}".strip(), {"command": command, "text": text})
        result = self._send(urlencode(fields), "application/x-www-form-urlencoded", fields)
        result.trigger_id, result.response_url = trigger_id, response_url
        if result.ok:
            self._show_slash_ack(result, channel_obj.id)
        return result

    def open_home(self) -> Result | None:
        """Open the app's Home tab. None when the app is not subscribed to app_home_opened: Slack
        shows the tab but tells the app nothing."""
        if not self.ws.manifest.home_tab:
            raise AssertionError(f"{self.name} sees no Home tab: the manifest does not enable it (home_tab_enabled)")
        event: dict[str, Any] = {"type": "app_home_opened", "user": self.user_id, "channel": self.dm, "tab": "home",
                                 "event_ts": self.ws._next_ts()}
        home = self.ws.home(self.user_id)
        if home is not None:
            event["view"] = home
        self.ws._record("home_opened", self.user_id, self.dm, "opened the Home tab", {})
        return self._send_event(event)

    def say(self, text: str, *, channel: str | None = None) -> Message:
        """Post a message (default: in their DM with the app). In the app's DM only a writable
        Messages tab has a message box; a message.im event reaches the app if it subscribed."""
        channel_obj = self._channel_i_can_see(channel or self.dm)
        self._check_can_write(channel_obj, "post a message")
        message = self.ws.add_message(channel_obj.id, self.user_id, text)
        if channel_obj.is_im:
            self._send_event({"type": "message", "channel": channel_obj.id, "user": self.user_id, "text": text,
                              "ts": message.ts, "channel_type": "im", "event_ts": message.ts})
        return message

    def upload(self, name: str, content: bytes, *, channel: str | None = None, comment: str = "",
               title: str | None = None) -> SharedFile:
        """Share a file into a channel the person is in (default: their DM with the bot).

        Posts the person's message carrying the file (text = comment) and, when the bot can see the
        channel, delivers a file_shared event. Returns the file object (see SharedFile).
        """
        channel_obj = self._channel_i_can_see(channel or self.dm)
        self._check_can_write(channel_obj, "share a file")
        stored = self.ws.add_file(self.user_id, name, content, title=title)
        message, shared = self.ws._post_upload(channel_obj, self.user_id, stored["id"], comment)
        result = None
        if self.ws.bot_user_id in channel_obj.members:
            result = self._send_event({"type": "file_shared", "channel_id": channel_obj.id, "file_id": shared["id"],
                                       "user_id": self.user_id, "file": {"id": shared["id"]}, "event_ts": message.ts})
        return SharedFile(shared, message, result)

    def click(self, action_id: str, *, in_message: Message | Ephemeral | str | None = None, in_home: bool = False,
              in_view: dict[str, Any] | str | None = None, value: str | None = None, block_id: str | None = None,
              selected_option_value: Any = None, values: dict[str, Any] | None = None) -> Result:
        """Press a button (or pick from a select/overflow with selected_option_value=) the person can see.

        `values` is what the person typed into the view's inputs first, keyed and checked as in
        submit() except that required inputs may stay empty; it lands in the payload's view.state.
        Only views (a modal, the Home tab) carry typed state this way, so messages refuse it.
        """
        if values is not None and in_message is not None:
            raise AssertionError("values= fills a view's inputs; a click in a message carries no typed values")
        surfaces = self._surfaces(in_message, in_home, in_view)
        for surface in surfaces:
            matches = forms.find_actions(surface.blocks, action_id, block_id, value)
            if len(matches) > 1:
                described = [(b.get("block_id"), e.get("value")) for b, e in matches]
                raise AssertionError(f"{self.name} sees several {action_id!r} elements (block_id, value): {described}; "
                                     "pass value= or block_id=")
            if matches:
                return self._send_block_action(surface, *matches[0], selected_option_value, values)
        where = [s.kind for s in surfaces] or ["nothing open"]
        raise AssertionError(f"{self.name} cannot see any {action_id!r} element (looked in: {', '.join(where)})")

    def submit(self, values: dict[str, Any] | None = None, view: dict[str, Any] | str | None = None) -> Result:
        """Fill the top modal's inputs (keyed by block_id or action_id) and press its submit button."""
        top = self._top_view(view)
        if not top.get("submit"):
            raise AssertionError(f"modal {forms.text_of(top.get('title'))!r} has no submit button")
        submitted = copy.deepcopy(top)
        state = forms.build_state(top["blocks"], values or {}, self._exists, enforce_required=True, file_of=self._file_of)
        submitted["state"] = {"values": state}
        trigger_id = self.ws._issue_trigger(self.user_id)
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.ws.team_domain},
            "user": self._user_field(),
            "api_app_id": self.ws.app_id,
            "token": self.ws.verification_token,
            "trigger_id": trigger_id,
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        self.ws._record("submit", self.user_id, None, forms.text_of(top.get("title")), {"values": submitted["state"]["values"]})
        result = self._send(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", payload)
        result.trigger_id = trigger_id
        if result.ok:
            self._apply_submission_ack(result, top)
        return result

    def close_view(self) -> Result | None:
        """Press the modal's close button; sends view_closed only if the view asked for it."""
        top = self._top_view(None)
        everything = bool(top.get("clear_on_close"))
        self.ws._close_views(self.user_id, everything)
        if not top.get("notify_on_close"):
            return None
        payload = {
            "type": "view_closed",
            "team": {"id": self.team_id, "domain": self.ws.team_domain},
            "user": self._user_field(),
            "api_app_id": self.ws.app_id,
            "token": self.ws.verification_token,
            "view": top,
            "is_cleared": everything,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._send(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", payload)

    # ---- forged requests: what a tampered or replayed payload would carry ----------------
    def forge_action(self, action_id: str, *, value: str | None = None, selected_option_value: str | None = None,
                     view: dict[str, Any] | None = None, message_ts: str | None = None) -> Result:
        """A block_actions request for an element the person was never shown (ids of someone else's
        objects in `value`): Slack would not send it, but the bot must not rely on that. It comes from
        the person's DM with the bot (with a response_url there), or from `view` when given."""
        ws = self.ws
        action: dict[str, Any] = {"action_id": action_id, "block_id": "forged", "action_ts": ws._next_ts()}
        if selected_option_value is not None:
            action.update(type="overflow", selected_option={"value": selected_option_value,
                                                             "text": {"type": "plain_text", "text": "forged"}})
        else:
            action.update(type="button", value=value or "", text={"type": "plain_text", "text": "forged"})
        payload: dict[str, Any] = {
            "type": "block_actions", "user": self._user_field(), "api_app_id": ws.app_id,
            "token": ws.verification_token, "trigger_id": ws._issue_trigger(self.user_id),
            "team": {"id": self.team_id, "domain": ws.team_domain}, "enterprise": None,
            "is_enterprise_install": False, "actions": [action]}
        if view is not None:
            payload.update(container={"type": "view", "view_id": view.get("id", "V0FORGED")},
                           view={"id": "V0FORGED", "type": "modal", "blocks": [], "state": {"values": {}}, **view})
        else:
            channel = self.dm
            ts = message_ts or ws._next_ts()
            payload.update(container={"type": "message", "message_ts": ts, "channel_id": channel,
                                      "is_ephemeral": False},
                           channel={"id": channel, "name": "directmessage"},
                           message={"type": "message", "ts": ts, "text": "forged", "blocks": []},
                           response_url=ws._issue_response_url(self.user_id, channel, ts))
        ws._record("click", self.user_id, None, f"forged {action_id}", {"action": action})
        return self._send(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", payload)

    def forge_submission(self, callback_id: str, *, private_metadata: str = "",
                         values: dict[str, Any] | None = None) -> Result:
        """A view_submission for a modal the person never had open: `values` is the raw state
        ({block_id: {action_id: {...}}}) and `private_metadata` may name someone else's objects."""
        ws = self.ws
        view = {"id": "V0FORGED", "type": "modal", "callback_id": callback_id, "private_metadata": private_metadata,
                "blocks": [], "state": {"values": values or {}}, "hash": "forged",
                "title": {"type": "plain_text", "text": "forged"}}
        payload = {"type": "view_submission", "team": {"id": self.team_id, "domain": ws.team_domain},
                   "user": self._user_field(), "api_app_id": ws.app_id, "token": ws.verification_token,
                   "trigger_id": ws._issue_trigger(self.user_id), "view": view, "response_urls": [],
                   "is_enterprise_install": False, "enterprise": None}
        ws._record("submit", self.user_id, None, f"forged {callback_id}", {"values": values or {}})
        return self._send(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", payload)

    # ---- plumbing --------------------------------------------------------------------
    def _check_can_write(self, channel: Any, what: str) -> None:
        """The app's DM is its Messages tab: no tab, or a read-only one, has no message box
        (manifest features.app_home; https://api.slack.com/reference/manifests#app_home)."""
        if channel.is_im and channel.im_user == self.user_id and not self.ws.manifest.dm_writable:
            setting = ("messages_tab_read_only_enabled is true" if self.ws.manifest.messages_tab
                       else "messages_tab_enabled is false")
            raise AssertionError(f"{self.name} cannot {what} in the app's DM: its manifest says {setting}, "
                                 "so Slack shows no message box there")

    _PICKED = re.compile(r"<([@#])([A-Z0-9]+)(?:\|[^>]*)?>")

    def _as_sent(self, text: str, *, escape: bool) -> str:
        """A picked mention as Slack sends it: <@U123|name> / <#C123|name> when the command escapes,
        else the @name / #name the person saw (https://api.slack.com/interactivity/slash-commands).
        An id this workspace does not know (someone from another organisation) has no name here:
        <@U123> / @U123."""
        def swap(found: re.Match[str]) -> str:
            sigil, ident = found.group(1), found.group(2)
            name = self.ws.user_name(ident) if sigil == "@" else self.ws.channel_name(ident)
            if escape:
                return f"<{sigil}{ident}|{name}>" if name else f"<{sigil}{ident}>"
            return f"{sigil}{name or ident}"
        return self._PICKED.sub(swap, text)

    def _send_event(self, event: dict[str, Any]) -> Result | None:
        """Deliver one Events API event in Slack's event_callback envelope (JSON body), if the app
        subscribed to it (settings.event_subscriptions.bot_events; only subscribed events are sent:
        https://api.slack.com/apis/events-api#subscribing); None when it did not."""
        name = event["type"] + (f".{event['channel_type']}" if event["type"] == "message" else "")
        if name not in self.ws.manifest.bot_events:
            return None
        payload = {
            "token": self.ws.verification_token,
            "team_id": self.ws.team_id,
            "context_team_id": self.ws.team_id,
            "api_app_id": self.ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(self.ws.wallclock()),
            "authorizations": [{"enterprise_id": None, "team_id": self.ws.team_id, "user_id": self.ws.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_hex(8),
        }
        return self._send(json.dumps(payload), "application/json", payload)

    def _file_of(self, item: Any, where: str) -> dict[str, Any]:
        """A file_input value: a file already in the workspace, or (name, bytes) uploaded as it is picked."""
        if isinstance(item, tuple):
            name, content = item
            return self.ws.add_file(self.user_id, name, bytes(content))
        try:
            return self.ws.file(str(item.get("id")))
        except KeyError:
            raise AssertionError(f"{where}: no file {item.get('id')!r} in the workspace; use ws.add_file()") from None

    def _send(self, body: str, content_type: str, payload: dict[str, Any]) -> Result:
        timestamp = self.timestamp if self.timestamp is not None else int(time.time())  # Bolt checks real time
        headers = {"content-type": content_type,
                   **sign_request(self.signing_secret or self.ws.signing_secret, body, timestamp)}
        started = self.ws.monotonic()
        response: TargetResponse = self.target.send(body, headers)
        timed_out = self.ws.monotonic() - started > ACK_TIMEOUT
        ack = None
        if response.body.strip().startswith("{"):
            try:
                ack = json.loads(response.body)
            except ValueError:
                ack = None
        return Result(response.status, response.body, payload, ack=ack, timed_out=timed_out, headers=response.headers)

    def _user_field(self) -> dict[str, Any]:
        return {"id": self.user_id, "username": self.name, "name": self.name, "team_id": self.team_id}

    def _exists(self, kind: str, ident: str) -> bool:
        try:
            self.ws.user(ident) if kind == "user" else self.ws.channel(ident)
            return True
        except ApiError:
            return False

    def _channel_i_can_see(self, channel_id: str):  # type: ignore[no-untyped-def]
        try:
            channel = self.ws.channel(channel_id)
        except ApiError:
            raise AssertionError(f"no channel {channel_id!r} in the workspace") from None
        if self.user_id not in channel.members:
            raise AssertionError(f"{self.name} is not a member of {channel.name} ({channel.id})")
        return channel

    def _top_view(self, view: dict[str, Any] | str | None) -> dict[str, Any]:
        stack = self.ws.open_views(self.user_id)
        if not stack:
            raise AssertionError(f"{self.name} has no modal open")
        if view is not None:
            wanted = view["id"] if isinstance(view, dict) else view
            if wanted != stack[-1]["id"]:
                raise AssertionError(f"view {wanted!r} is not {self.name}'s top modal; only the top one can be used")
        return stack[-1]

    def _surfaces(self, in_message: Any, in_home: bool, in_view: Any) -> list[_Surface]:
        ws = self.ws
        if in_message is not None:
            return [self._message_surface(in_message)]
        if in_home:
            home = ws.home(self.user_id)
            if home is None:
                raise AssertionError(f"nothing is published on {self.name}'s Home tab")
            return [_Surface("home", home["blocks"], view=home)]
        if in_view is not None:
            wanted = in_view["id"] if isinstance(in_view, dict) else in_view
            home = ws.home(self.user_id)
            stack = ws.open_views(self.user_id)
            if stack and stack[-1]["id"] == wanted:
                return [_Surface("view", stack[-1]["blocks"], view=stack[-1])]
            if home is not None and home["id"] == wanted:
                return [_Surface("home", home["blocks"], view=home)]
            raise AssertionError(f"view {wanted!r} is not in front of {self.name}")
        found: list[_Surface] = []
        stack = ws.open_views(self.user_id)
        if stack:
            found.append(_Surface("view", stack[-1]["blocks"], view=stack[-1]))
        home = ws.home(self.user_id)
        if home is not None:
            found.append(_Surface("home", home["blocks"], view=home))
        visible: list[tuple[str, _Surface]] = []
        for message in ws.messages():
            if self.user_id in ws.channel(message.channel).members:
                visible.append((message.ts, _Surface("message", message.blocks, message=message)))
        for eph in ws.ephemerals(user=self.user_id):
            visible.append((eph.ts, _Surface("ephemeral", eph.blocks, ephemeral=eph)))
        found += [s for _, s in sorted(visible, key=lambda pair: pair[0], reverse=True)]
        return found

    def _message_surface(self, ref: Message | Ephemeral | str) -> _Surface:
        ts = ref if isinstance(ref, str) else ref.ts
        if not isinstance(ref, Ephemeral):
            for message in self.ws.messages():
                if message.ts == ts and (isinstance(ref, str) or message.channel == ref.channel):
                    if self.user_id not in self.ws.channel(message.channel).members:
                        raise AssertionError(f"{self.name} cannot see message {ts}: not a member of {message.channel}")
                    return _Surface("message", message.blocks, message=message)
        for eph in self.ws.ephemerals(user=self.user_id):
            if eph.ts == ts:
                return _Surface("ephemeral", eph.blocks, ephemeral=eph)
        raise AssertionError(f"{self.name} cannot see a message with ts {ts} (deleted, or someone else's ephemeral?)")

    def _send_block_action(self, surface: _Surface, block: dict[str, Any], element: dict[str, Any], selected: Any,
                           values: dict[str, Any] | None = None) -> Result:
        ws = self.ws
        if values is not None and surface.view is None:
            raise AssertionError(f"{element.get('action_id')!r} is in a {surface.kind}: values= only fills a view's "
                                 "inputs (a modal or the Home tab)")
        action = forms.action_payload(block, element, selected, ws._next_ts(), self._exists)
        trigger_id = ws._issue_trigger(self.user_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user_field(),
            "api_app_id": ws.app_id,
            "token": ws.verification_token,
            "trigger_id": trigger_id,
            "team": {"id": self.team_id, "domain": ws.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        response_url = None
        if surface.view is not None:
            view = copy.deepcopy(surface.view)
            state = forms.build_state(view["blocks"], values or {}, self._exists, enforce_required=False,
                                      file_of=self._file_of)
            view["state"] = {"values": state}
            payload.update(container={"type": "view", "view_id": view["id"]}, view=view)
        else:
            posted = surface.message or surface.ephemeral
            assert posted is not None
            channel = ws.channel(posted.channel)
            is_ephemeral = surface.ephemeral is not None
            response_url = ws._issue_response_url(self.user_id, channel.id, posted.ts, ephemeral=is_ephemeral)
            payload.update(
                container={"type": "message", "message_ts": posted.ts, "channel_id": channel.id, "is_ephemeral": is_ephemeral},
                channel={"id": channel.id, "name": channel.name},
                state={"values": forms.build_state(posted.blocks, {}, self._exists, enforce_required=False)},
                response_url=response_url,
            )
            if surface.message is not None:
                payload["message"] = ws._message_json(surface.message)
        payload["actions"] = [action]
        label = (forms.text_of(element.get("text")) or forms.text_of((action.get("selected_option") or {}).get("text"))
                 or action["action_id"])
        data: dict[str, Any] = {"action": action, "container": payload["container"]}
        if values:
            data["values"] = payload["view"]["state"]["values"]
        ws._record("click", self.user_id, payload.get("channel", {}).get("id"), label, data)
        result = self._send(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", payload)
        result.trigger_id, result.response_url = trigger_id, response_url
        return result

    def _show_slash_ack(self, result: Result, channel_id: str) -> None:
        """Slack shows a slash command's ack body to the user (or the channel, for in_channel)."""
        if result.ack is not None:
            text, blocks = result.ack.get("text"), result.ack.get("blocks")
            if not text and not blocks:
                return
            try:
                text, blocks = check_message_content(text, blocks, self.ws._new_id, image_file=self.ws._image_file)
            except ApiError as exc:
                raise AssertionError(f"Slack rejects this slash command ack: {exc}") from None
            if result.ack.get("response_type") == "in_channel":
                self.ws._post_message(self.ws._channel_by_id(channel_id), text, blocks)
            else:
                self.ws._post_ephemeral(channel_id, self.user_id, text, blocks, "slash_ack")
        elif result.body.strip():
            self.ws._post_ephemeral(channel_id, self.user_id, result.body, [], "slash_ack")

    def _apply_submission_ack(self, result: Result, top: dict[str, Any]) -> None:
        """Apply response_action as Slack does; a response Slack would refuse is an AssertionError."""
        ack = result.ack
        if not result.body.strip():  # an empty ack closes the submitted view
            self.ws._close_views(self.user_id, everything=False, down_to=top["id"])
            return
        if ack is None:
            raise AssertionError(f"Slack cannot use this view_submission ack (not JSON): {result.body[:200]!r}")
        action = ack.get("response_action")
        try:
            if action == "errors":
                errors = ack.get("errors")
                inputs = {b["block_id"] for b in top["blocks"] if b.get("type") == "input"}
                if not isinstance(errors, dict) or not errors or not set(errors) <= inputs:
                    raise AssertionError(f"response_action=errors must map input block_ids {sorted(inputs)} to messages, got {errors!r}")
                result.errors = dict(errors)
            elif action == "update":
                self.ws._replace_view(top["id"], check_view(ack.get("view"), "modal", self.ws._new_id, image_file=self.ws._image_file))
            elif action == "push":
                self.ws._open_modal(self.user_id, check_view(ack.get("view"), "modal", self.ws._new_id, image_file=self.ws._image_file), push=True)
            elif action == "clear":
                self.ws._close_views(self.user_id, everything=True)
            elif action is None and not ack:
                self.ws._close_views(self.user_id, everything=False, down_to=top["id"])
            else:
                raise AssertionError(f"Slack does not understand this view_submission ack: {ack!r}")
        except ApiError as exc:
            raise AssertionError(f"Slack rejects response_action={action}: {exc}") from None
