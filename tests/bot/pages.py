"""The bot's HTTP surface (its WSGI app: OAuth pages, the opt-out page, the tracking image) served on
loopback for tests that reach it over real HTTP; each test sets `app`, since the runtime is per test."""
from __future__ import annotations

import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class BotPages:
    def __init__(self) -> None:
        self.app: Any = None
        self.server = make_server("127.0.0.1", 0, lambda e, s: self.app(e, s), handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
