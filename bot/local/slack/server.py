"""The loopback HTTP face of LocalSlack: /api/<method>, /response/<token> and /files-pri/... downloads.

Slack answers every Web API call with HTTP 200 and a JSON body, even on errors (a rate-limited
call aside: HTTP 429 with Retry-After); the body
format follows the request: WebClient sends form bodies for some methods and JSON for
others, and Slack only takes the token from the Authorization header for JSON bodies.
"""
from __future__ import annotations

import email.parser
import email.policy
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import webapi
from .files import UPLOAD_PATH
from .model import Call

if TYPE_CHECKING:
    from .workspace import LocalSlack


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    workspace: "LocalSlack"


def make_server(ws: "LocalSlack") -> _Server:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.workspace = ws
    return server


class _BadBody(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "LocalSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ws = self.server.workspace
        if url.path.startswith("/api/"):
            method = unquote(url.path[len("/api/"):])
            try:
                params, is_json = self._params(raw, url.query)
            except _BadBody:
                ws._record_call(Call(method, {}, False, "invalid_json"))
                self._reply(200, {"ok": False, "error": "invalid_json"})
                return
            status, body, headers = webapi.call_http(ws, method, params, self._token(params, is_json))
            self._reply(status, body, headers)
        elif url.path.startswith("/response/"):
            try:
                payload: Any = json.loads(raw or b"null")
            except ValueError:
                payload = None
            status, text = webapi.post_to_response_url(ws, url.path[len("/response/"):], payload)
            self._reply(status, text)
        elif url.path.startswith(UPLOAD_PATH) and self.command == "POST":
            status, text = ws.receive_upload(url.path, self._upload_body(raw))
            self._reply(status, text)
        elif url.path.startswith("/files-pri/") and self.command == "GET":
            status, data, headers = webapi.download_file(ws, url.path, self.headers.get("Authorization", ""))
            self._send_bytes(status, data, headers)
        else:
            self._reply(404, "not_found")

    def _params(self, raw: bytes, query: str) -> tuple[dict[str, Any], bool]:
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        full_type = self.headers.get("Content-Type", "")
        content_type = full_type.split(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                body = json.loads(raw.decode("utf-8") or "{}")
            except ValueError:
                raise _BadBody() from None
            if not isinstance(body, dict):
                raise _BadBody()
            params.update(body)
            return params, True
        if content_type == "multipart/form-data":
            head = f"Content-Type: {full_type}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
            for part in message.iter_parts():  # type: ignore[attr-defined]
                name = part.get_param("name", header="content-disposition")
                if name:
                    params[name] = part.get_payload(decode=True).decode("utf-8", "replace")
            return params, False
        if raw:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()})
        return params, False

    def _upload_body(self, raw: bytes) -> bytes:
        """The bytes of an upload: sent raw (as slack_sdk does) or as a multipart form's file part
        ("Files can be sent as raw bytes or can be multipart form encoded")."""
        full_type = self.headers.get("Content-Type", "")
        if full_type.split(";")[0].strip().lower() != "multipart/form-data":
            return raw
        head = f"Content-Type: {full_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        for part in message.iter_parts():  # type: ignore[attr-defined]
            if part.get_filename() is not None:
                return bytes(part.get_payload(decode=True))
        return b""

    def _token(self, params: dict[str, Any], is_json: bool) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        if not is_json and isinstance(params.get("token"), str):
            return params["token"]
        return None

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        is_json = not isinstance(body, str)
        data = (json.dumps(body) if is_json else body).encode("utf-8")
        self._send_bytes(status, data, {"Content-Type": "application/json; charset=utf-8" if is_json
                                        else "text/plain; charset=utf-8", **(headers or {})})

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
