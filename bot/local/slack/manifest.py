"""The app manifest LocalSlack honours: what the app was installed with decides what it may call,
what it is told, and what people can do with it.

- oauth_config.scopes.bot: a Web API method whose scope is not granted answers `missing_scope`
  (with `needed` and `provided`), as Slack does (https://api.slack.com/authentication/oauth-v2,
  "missing_scope"; each method's scope: bot/local/slack/spec.py).
- settings.event_subscriptions.bot_events: only subscribed events are delivered
  (https://api.slack.com/apis/events-api#subscribing); subscribing to an event needs its scope, or
  Slack refuses the manifest (scopes per event: https://api.slack.com/events/<event>, "Required
  scopes"; kept in ../shared/specs/slack_limits.json, "event_scopes").
- features.slash_commands[].should_escape: with it, Slack sends a mention picked in the command as
  <@U123|name> and a channel as <#C123|name>; without it, as the plain @name / #name the person saw
  (https://api.slack.com/interactivity/slash-commands, "Escape channels, users, and links").
- features.app_home: the Home tab exists only with home_tab_enabled; a person can write in the
  app's DM (post a message, share a file) only when messages_tab_enabled is true and
  messages_tab_read_only_enabled is false (https://api.slack.com/reference/manifests#app_home).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_MANIFEST = Path(__file__).resolve().parents[3] / "manifest.yml"

# event -> the bot scopes it needs (https://api.slack.com/events/<event>; slack_limits.json "event_scopes")
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "file_shared": ("files:read",),
    "message.im": ("im:history",),
    "app_mention": ("app_mentions:read",),
}


@dataclass(frozen=True)
class Manifest:
    bot_scopes: frozenset[str]
    bot_events: frozenset[str]
    commands: Mapping[str, bool]  # command -> should_escape
    home_tab: bool
    messages_tab: bool
    messages_tab_read_only: bool
    interactivity: bool

    @property
    def dm_writable(self) -> bool:
        """Can a person post or share a file in the app's DM (its Messages tab)?"""
        return self.messages_tab and not self.messages_tab_read_only

    @classmethod
    def load(cls, source: Mapping[str, Any] | str | Path | None = None) -> "Manifest":
        """From a manifest dict, a YAML file, or (None) this project's manifest.yml."""
        if source is None or isinstance(source, (str, Path)):
            path = Path(source) if source is not None else PROJECT_MANIFEST
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        else:
            raw = source
        if not isinstance(raw, Mapping):
            raise ValueError("an app manifest is a mapping (display_information, features, oauth_config, settings)")
        features = raw.get("features") or {}
        app_home = features.get("app_home") or {}
        settings = raw.get("settings") or {}
        scopes = frozenset(((raw.get("oauth_config") or {}).get("scopes") or {}).get("bot") or [])
        events = frozenset((settings.get("event_subscriptions") or {}).get("bot_events") or [])
        for event in sorted(events):
            if event not in EVENT_SCOPES:
                raise ValueError(f"LocalSlack does not model the {event!r} event; known: {sorted(EVENT_SCOPES)}")
            missing = [s for s in EVENT_SCOPES[event] if s not in scopes]
            if missing:
                raise ValueError(f"Slack refuses this manifest: the {event} event needs the bot scope "
                                 f"{', '.join(missing)} in oauth_config.scopes.bot")
        commands = {str(c["command"]): bool(c.get("should_escape", False))
                    for c in features.get("slash_commands") or []}
        return cls(
            bot_scopes=scopes,
            bot_events=events,
            commands=commands,
            home_tab=bool(app_home.get("home_tab_enabled", False)),
            messages_tab=bool(app_home.get("messages_tab_enabled", True)),
            messages_tab_read_only=bool(app_home.get("messages_tab_read_only_enabled", False)),
            interactivity=bool((settings.get("interactivity") or {}).get("is_enabled", False)),
        )
