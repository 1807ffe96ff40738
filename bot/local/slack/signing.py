"""Slack's v0 request signing, as Slack does it when it calls an app."""
from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, body: str, timestamp: int | str) -> str:
    """`v0=<hex>` of HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    base = f"v0:{timestamp}:{body}".encode("utf-8")
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def sign_request(secret: str, body: str, timestamp: int | str) -> dict[str, str]:
    """The two headers Slack adds to every request it sends to an app (lower-case names)."""
    return {
        "x-slack-request-timestamp": str(timestamp),
        "x-slack-signature": signature(secret, body, timestamp),
    }
