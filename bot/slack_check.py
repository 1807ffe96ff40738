"""Does Slack take our tokens? Asked by `outreach serve` before it starts and by `outreach doctor`.

The answer is one line that names the variable at fault and says what to do, never a token:

| what happened                                                   | raised           | serve exits |
|-----------------------------------------------------------------|------------------|-------------|
| auth.test refuses SLACK_BOT_TOKEN (invalid_auth, token_revoked)  | SlackRefused     | 4           |
| apps.connections.open refuses SLACK_APP_TOKEN (Socket Mode)      | SlackRefused     | 4           |
| no answer at SLACK_API_URL (refused, DNS, TLS, timeout)          | SlackUnreachable | 5           |
| an answer that is not the Web API's (HTTP 404, not JSON)         | SlackUnreachable | 5           |
| Slack's own trouble (5xx, ratelimited, service_unavailable)      | SlackUnreachable | 5           |
"""
from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass

from bot.config import Settings

TIMEOUT_SECONDS = 10

# slack_sdk logs each failed request (and each retry) at ERROR; the one line we print says it all.
_QUIET = logging.getLogger("outreach.slack_check")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

REINSTALL = "reinstall the app to the workspace (api.slack.com/apps → Install App) and copy the new Bot User OAuth Token"
# What each auth.test refusal means for SLACK_BOT_TOKEN, and what to do about it.
BOT_TOKEN_REFUSALS = {
    "invalid_auth": "Slack does not know this token (a typo, or a token of another app or workspace): copy the "
                    "Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page",
    "not_authed": "no token reached Slack: set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…)",
    "account_inactive": f"the app's installation or its workspace is no longer active: {REINSTALL}",
    "token_revoked": f"the token was revoked (the app was uninstalled or its tokens were revoked): {REINSTALL}",
    "token_expired": "the token expired (token rotation is on for this app, and the bot cannot refresh tokens): turn "
                     f"token rotation off on the OAuth & Permissions page, then {REINSTALL}",
    "not_allowed_token_type": "this is not a bot token: copy the Bot User OAuth Token (xoxb-…), not a user or "
                              "app-level token",
    "team_access_not_granted": "the workspace has not given this app access: ask a workspace admin to approve it",
    "org_login_required": "the workspace is migrating to an Enterprise Grid org: try again when it is done",
    "ekm_access_denied": "the workspace's administrators have revoked access (EKM): ask a workspace admin",
}
APP_TOKEN_FIX = ("create an app-level token with the connections:write scope (api.slack.com/apps → Basic "
                 "Information → App-Level Tokens) and set SLACK_APP_TOKEN to it, or unset it to serve over HTTP")
APP_TOKEN_REFUSALS = {
    "invalid_auth": f"Slack does not know this token: {APP_TOKEN_FIX}",
    "not_authed": f"no token reached Slack: {APP_TOKEN_FIX}",
    "token_revoked": f"the token was revoked: {APP_TOKEN_FIX}",
    "account_inactive": f"the app's installation is no longer active: {APP_TOKEN_FIX}",
    "not_allowed_token_type": f"this is not an app-level token (xapp-…): {APP_TOKEN_FIX}",
    "missing_scope": f"the token lacks the connections:write scope: {APP_TOKEN_FIX}",
}
# Slack's own trouble, not the token's: nothing to fix here but time.
SLACK_TROUBLE = {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}


class SlackProblem(Exception):
    """One line naming the variable at fault and what to do; it never holds a token."""


class SlackRefused(SlackProblem):
    """Slack answered, and refused a token."""


class SlackUnreachable(SlackProblem):
    """No answer from the Slack Web API at SLACK_API_URL (or an answer that is not the Web API's)."""


@dataclass(frozen=True)
class SlackIdentity:
    user: str
    team: str


def check_slack(settings: Settings) -> SlackIdentity:
    """Ask auth.test with SLACK_BOT_TOKEN (and, in Socket Mode, apps.connections.open with
    SLACK_APP_TOKEN, whose socket URL is left unused). Raises SlackRefused or SlackUnreachable."""
    from slack_sdk import WebClient  # imported when asked: every `outreach` command imports this module

    settings.require_slack()
    bot_token = settings.slack_bot_token.get_secret_value()  # type: ignore[union-attr]
    client = WebClient(token=bot_token, base_url=settings.slack_api_url, timeout=TIMEOUT_SECONDS, logger=_QUIET)
    try:
        auth = client.auth_test()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line; see slack_failure
        raise slack_failure(settings, exc, variable="SLACK_BOT_TOKEN", method="auth.test") from None
    if settings.slack_app_token is not None:
        try:
            client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
        except Exception as exc:  # noqa: BLE001
            raise slack_failure(settings, exc, variable="SLACK_APP_TOKEN", method="apps.connections.open") from None
    return SlackIdentity(user=str(auth.get("user")), team=str(auth.get("team")))


def slack_failure(settings: Settings, error: BaseException, *, variable: str = "SLACK_BOT_TOKEN",
                  method: str = "auth.test") -> BaseException:
    """The SlackProblem for what a Web API call raised (Bolt's BoltError wraps auth.test's refusal);
    anything else is returned as it was: a bug, for a traceback."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    url = _scrub(settings.slack_api_url, settings)
    if isinstance(error, BoltError) and isinstance(error.__context__, SlackApiError):
        error = error.__context__
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        data = error.response.data if isinstance(error.response.data, dict) else {}
        code = str(data.get("error") or "")
        if status == 200 and code and not code.startswith("Received a response in a non-JSON format"):
            if code in SLACK_TROUBLE:
                return SlackUnreachable(f"Slack answered {method} with {code} (trouble on Slack's side, not in "
                                        "the settings): try again in a few minutes; see https://slack-status.com")
            refusals = APP_TOKEN_REFUSALS if variable == "SLACK_APP_TOKEN" else BOT_TOKEN_REFUSALS
            advice = refusals.get(code, "check the token, or reinstall the app and copy the new one")
            return SlackRefused(f"Slack refused {variable} ({_scrub(code, settings)}): {advice}")
        if status == 429 or status >= 500:
            return SlackUnreachable(f"Slack answered {method} with HTTP {status} (trouble on Slack's side, not in "
                                    "the settings): try again in a few minutes; see https://slack-status.com")
        return SlackUnreachable(f"SLACK_API_URL ({url}) answered {method} with HTTP {status} and no Slack Web API "
                                "reply: is it the Web API's address? Unset SLACK_API_URL to use Slack's")
    if isinstance(error, (OSError, http.client.HTTPException)):
        return SlackUnreachable(f"cannot reach Slack at SLACK_API_URL ({url}): {_scrub(_reason(error), settings)}; "
                                "check the network, a proxy or firewall, and SLACK_API_URL")
    return error


def _reason(error: BaseException) -> str:
    """The words of what failed, e.g. 'Connection refused', 'Name or service not known', 'timed out'."""
    reason: object = getattr(error, "reason", None) or error  # urllib's URLError wraps the socket's error
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return str(text).splitlines()[0].strip()


def _scrub(line: str, settings: Settings) -> str:
    """What came from outside (an error's words, a URL) with any token in it hidden."""
    for secret in (settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret):
        if secret is not None and secret.get_secret_value():
            line = line.replace(secret.get_secret_value(), "***")
    return line
