"""Our signer against slack_sdk's own verifier (the one Bolt uses)."""
from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier

from bot.local.slack import sign_request


def test_signatures_verify_with_slack_sdk() -> None:
    now = int(time.time())
    headers = sign_request("s3cret", "command=%2Foutreach&text=hi", now)
    assert set(headers) == {"x-slack-request-timestamp", "x-slack-signature"}
    assert headers["x-slack-signature"].startswith("v0=")
    verifier = SignatureVerifier("s3cret")
    assert verifier.is_valid_request("command=%2Foutreach&text=hi", headers)
    assert not verifier.is_valid_request("command=%2Foutreach&text=bye", headers)
    assert not SignatureVerifier("other").is_valid_request("command=%2Foutreach&text=hi", headers)


def test_old_timestamps_are_refused_by_the_verifier() -> None:
    stale = sign_request("s3cret", "{}", int(time.time()) - 10 * 60)
    assert not SignatureVerifier("s3cret").is_valid_request("{}", stale)
