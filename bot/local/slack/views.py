"""Modal stacks and Home tabs: the view state behind views.* and response_action.

A mixin of LocalSlack, kept apart because views have their own rules: ids and hashes,
root/previous links, at most three stacked modals, one Home view per user.
"""
from __future__ import annotations

import copy
import threading
from typing import Any

from .model import ApiError, User

MAX_VIEW_STACK = 3  # a modal plus two pushed views


class ViewStore:
    # provided by LocalSlack
    _lock: threading.RLock
    team_id: str
    app_id: str
    bot_id: str

    def _new_hash(self) -> str: ...
    def _new_view_id(self) -> str: ...
    def _require_user(self, user_id: Any) -> User: ...
    def _record(self, kind: str, user: str | None, channel: str | None, text: str, data: dict[str, Any]) -> None: ...

    def _init_views(self) -> None:
        self._views: dict[str, dict[str, Any]] = {}  # live views by id (open modals, homes)
        self._view_user: dict[str, str] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}

    def _build_view(self, view_id: str, user: str, spec: dict[str, Any], root: str | None, previous: str | None) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": spec["blocks"],
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._new_hash(),
            "title": spec.get("title"),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": self.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _check_external_id(self, spec: dict[str, Any], view_id: str | None) -> None:
        external_id = spec.get("external_id")
        if not external_id:
            return
        for other_id, other in self._views.items():
            if other_id != view_id and other.get("external_id") == external_id:
                raise ApiError("duplicate_external_id")

    def _open_modal(self, user: str, spec: dict[str, Any], push: bool) -> dict[str, Any]:
        with self._lock:
            self._check_external_id(spec, None)
            stack = self._stacks.setdefault(user, [])
            if push:
                if not stack:
                    raise ApiError("not_found", "[ERROR] no open modal to push onto")
                if len(stack) >= MAX_VIEW_STACK:
                    raise ApiError("push_limit_reached")
            else:
                for old in stack:  # a new root modal replaces whatever was open
                    self._forget_view(old)
                stack.clear()
            view_id = self._new_view_id()
            view = self._build_view(view_id, user, spec, stack[0] if stack else None, stack[-1] if stack else None)
            self._views[view_id] = view
            self._view_user[view_id] = user
            stack.append(view_id)
        self._record("view_pushed" if push else "view_opened", user, None, _title(view), {"view": view})
        return copy.deepcopy(view)

    def _find_view_id(self, view_id: Any, external_id: Any) -> str:
        with self._lock:
            if view_id:
                if view_id in self._views:
                    return str(view_id)
            elif external_id:
                for vid, view in self._views.items():
                    if view.get("external_id") == external_id:
                        return vid
            raise ApiError("not_found")

    def _replace_view(self, view_id: str, spec: dict[str, Any], hash_: Any = None) -> dict[str, Any]:
        with self._lock:
            old = self._views.get(view_id)
            if old is None:
                raise ApiError("not_found")
            if hash_ and hash_ != old["hash"]:
                raise ApiError("hash_conflict")
            if spec["type"] != old["type"]:
                raise ApiError("invalid_arguments", f"[ERROR] cannot change a {old['type']} view into a {spec['type']} view")
            self._check_external_id(spec, view_id)
            view = self._build_view(view_id, self._view_user[view_id], spec, old["root_view_id"], old["previous_view_id"])
            self._views[view_id] = view
            user = self._view_user[view_id]
        kind = "home_published" if view["type"] == "home" else "view_updated"
        self._record(kind, user, None, _title(view), {"view": view})
        return copy.deepcopy(view)

    def _publish_home(self, user: str, spec: dict[str, Any], hash_: Any = None) -> dict[str, Any]:
        with self._lock:
            self._require_user(user)
            current = self._homes.get(user)
            if current is not None:
                return self._replace_view(current, spec, hash_)
            self._check_external_id(spec, None)
            view_id = self._new_view_id()
            view = self._build_view(view_id, user, spec, None, None)
            self._views[view_id] = view
            self._view_user[view_id] = user
            self._homes[user] = view_id
        self._record("home_published", user, None, "Home", {"view": view})
        return copy.deepcopy(view)

    def _close_views(self, user: str, everything: bool, down_to: str | None = None) -> list[dict[str, Any]]:
        """Close the top modal, or all of them, or `down_to` and whatever was stacked on it.

        Returns the closed views, top first.
        """
        with self._lock:
            stack = self._stacks.get(user, [])
            if everything:
                closed_ids = list(reversed(stack))
            elif down_to is not None:
                closed_ids = list(reversed(stack[stack.index(down_to):])) if down_to in stack else []
            else:
                closed_ids = stack[-1:]
            closed = [self._views[v] for v in closed_ids]
            for view_id in closed_ids:
                stack.remove(view_id)
                self._forget_view(view_id)
        if closed:
            self._record("view_closed", user, None, ", ".join(_title(v) for v in closed), {"views": closed})
        return closed

    def _forget_view(self, view_id: str) -> None:
        self._views.pop(view_id, None)
        self._view_user.pop(view_id, None)


def _title(view: dict[str, Any]) -> str:
    title = view.get("title")
    return title.get("text", "") if isinstance(title, dict) else view.get("type", "view")
