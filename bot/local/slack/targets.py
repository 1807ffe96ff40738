"""Where a Person's signed requests go: straight into a Bolt app, or over HTTP."""
from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class TargetResponse:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class Target(Protocol):
    def send(self, body: str, headers: dict[str, str]) -> TargetResponse: ...


class BoltTarget:
    """Calls `app.dispatch(BoltRequest(...))`: Bolt's real request path, signature check included."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def send(self, body: str, headers: dict[str, str]) -> TargetResponse:
        from slack_bolt.request import BoltRequest

        response = self.app.dispatch(BoltRequest(body=body, headers=dict(headers)))
        flat = {k: (v[0] if isinstance(v, (list, tuple)) and v else str(v)) for k, v in (response.headers or {}).items()}
        return TargetResponse(int(response.status), response.body or "", flat)


class HttpTarget:
    """POSTs to the bot's HTTP endpoint, e.g. http://127.0.0.1:3000/slack/events."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        # never route loopback traffic through a proxy from the environment
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def send(self, body: str, headers: dict[str, str]) -> TargetResponse:
        request = urllib.request.Request(self.url, data=body.encode("utf-8"), headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return TargetResponse(response.status, response.read().decode("utf-8"), dict(response.headers.items()))
        except urllib.error.HTTPError as exc:
            return TargetResponse(exc.code, exc.read().decode("utf-8"), dict(exc.headers.items()))
