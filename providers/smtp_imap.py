"""The "Other" provider: any mailbox reachable over SMTP submission and IMAP with an app password.

Sending: one fresh, authenticated SMTP connection per message (STARTTLS on 587 or implicit TLS on
465), MAIL / RCPT / DATA exactly once, never retried here. Then, unless the server files its own
copy (`save_sent=False`, e.g. Gmail), the same bytes are APPENDed to the Sent folder, which is where
`find_sent` looks for our pre-generated Message-ID when the engine reconciles an unclear send.

When the outcome is unclear (the connection dropped or timed out after the whole message had been
transmitted, before the server's final answer), the message most likely went out: servers commit
before they answer. We still APPEND the copy and then raise TemporaryFailure, so reconciliation
finds it and the engine never sends it twice; the rare cost is a message marked sent that the
server in fact dropped.

The one window reconciliation cannot see: SMTP accepted the message (250 after DATA) and the process
died before the APPEND finished (or the APPEND failed: we log a warning). The Sent folder then has no
copy, `find_sent` answers "not found" and the engine sends again. Servers that file their own copy
(save_sent=False) do not have this window.

Incoming mail: INBOX only, by UID with a "UIDVALIDITY:LASTUID" cursor; headers only under basic
permissions (BODY.PEEK[HEADER], nothing marked read), whole messages under enhanced. An idle poll
is one connection: LOGIN, EXAMINE INBOX (its UIDNEXT says nothing is new), LOGOUT, no FETCH.

Nothing here puts the password in an exception, a repr or a log record; server replies are
shown (they help a person fix things) with the password scrubbed in case a server echoes it.
"""
from __future__ import annotations

import imaplib
import json
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from typing import Literal

from providers.base import (
    Changes,
    InboundMessage,
    MailProvider,
    OutgoingEmail,
    PermanentFailure,
    ProviderError,
    RateLimited,
    ReconnectNeeded,
    SentLookup,
    SentMessage,
    TemporaryFailure,
)
from providers.connect import LoginRefused
from providers.imap_read import (
    REPLY_TEXT_LIMIT,
    check_ok,
    fetched,
    find_sent_folder,
    parse_cursor,
    quoted,
    reply_text,
    search_date,
    select_folder,
)

log = logging.getLogger(__name__)

SECURITY_MODES = ("starttls", "ssl")
RESYNC_DAYS = 14  # after the INBOX's UIDVALIDITY changed: messages of the last RESYNC_DAYS...
RESYNC_MAX_MESSAGES = 200  # ...and no more than this many, the newest
RATE_LIMIT_RETRY_AFTER = 60.0
DAILY_LIMIT_RETRY_AFTER = 3600.0
APP_PASSWORD_HINT = ("The server refused this user name and app password. Use an app password, not your "
                     "normal password: Gmail, Outlook, iCloud and Yahoo require one when two-step sign-in is on, "
                     "and some providers must have SMTP/IMAP access switched on in their settings.")

# A temporary (4xx) answer that talks about rate or volume is throttling: wait a minute.
_THROTTLED = re.compile(rb"rate|too many|limit|throttl", re.IGNORECASE)
# An IMAP login refused for load, not for the password: RFC 5530's [LIMIT] (Dovecot's per-user
# connection limit) and the wording of Gmail's and Exchange's connection and bandwidth limits.
_IMAP_THROTTLED = re.compile(r"\[LIMIT\]|too many|maximum number of connections|bandwidth limit|"
                             r"exceeded command", re.IGNORECASE)
# A few servers answer a reached sending quota with 5xx (Gmail: "550 5.4.5 Daily user sending limit
# exceeded"). The message itself is fine, so this is not a permanent failure of it: wait an hour.
_SENDING_QUOTA = re.compile(rb"sending (limit|quota)|5\.4\.5", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class SmtpImapSettings:
    """What the "Other" form collects. Keyword-only so the defaults can follow the spec's order."""

    address: str  # the mailbox's email address (the From of every send)
    smtp_host: str
    smtp_port: int = 587
    smtp_security: Literal["starttls", "ssl"] = "starttls"
    imap_host: str
    imap_port: int = 993  # implicit TLS; IMAP without TLS is not offered
    username: str
    password: str = field(repr=False)
    save_sent: bool = True  # append a copy to Sent; switch off for servers that file one themselves

    def __post_init__(self) -> None:
        if self.smtp_security not in SECURITY_MODES:
            raise ValueError(f"smtp_security must be one of {SECURITY_MODES}, not {self.smtp_security!r}")
        for name in ("smtp_port", "imap_port"):
            port = getattr(self, name)
            if not isinstance(port, int) or not 0 < port < 65536:
                raise ValueError(f"{name} must be a port number (1-65535)")

    def to_credentials(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_credentials(cls, data: bytes) -> SmtpImapSettings:
        return cls(**json.loads(data))


# -- shared helpers ---------------------------------------------------------------------------

def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificates are always verified; `ca_file` only adds a CA to trust (tests, private CAs)."""
    return ssl.create_default_context(cafile=ca_file)


def _scrub(text: str | bytes, password: str) -> str:
    """A server's reply, decoded, shortened and without the password should a server echo it."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())[:REPLY_TEXT_LIMIT]
    return text.replace(password, "***") if password else text


def _network_problem(exc: OSError) -> str:
    """A short, secret-free description of a connection failure."""
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, OSError):
        exc = exc.__context__  # smtplib turns a read timeout into "Connection unexpectedly closed"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS failed: the server's certificate is not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, socket.gaierror):
        return "the server name could not be found"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return f"the connection failed ({type(exc).__name__})"


def _connect_smtp(settings: SmtpImapSettings, context: ssl.SSLContext, timeout: float) -> smtplib.SMTP:
    """Connected, encrypted and authenticated. Never falls back to plaintext."""
    if settings.smtp_security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                              context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)  # raises SMTPNotSupportedError if not offered
        smtp.ehlo()
        smtp.login(settings.username, settings.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _close_smtp(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a failing QUIT changes nothing about what was sent."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class _ImapLoginFailed(Exception):
    """The IMAP server said NO to LOGIN; `reply` is its text (never the password)."""

    def __init__(self, reply: str, unavailable: bool) -> None:
        super().__init__(reply)
        self.reply = reply
        self.unavailable = unavailable  # [UNAVAILABLE]: the server is busy, the password may be right


def _connect_imap(settings: SmtpImapSettings, context: ssl.SSLContext, timeout: float) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(settings.imap_host, settings.imap_port, ssl_context=context, timeout=timeout)
    try:
        imap.login(settings.username, settings.password)
    except imaplib.IMAP4.abort:
        imap.shutdown()
        raise
    except imaplib.IMAP4.error as exc:
        imap.shutdown()
        reply = _scrub(exc.args[0] if exc.args else "", settings.password)
        raise _ImapLoginFailed(reply, unavailable="[UNAVAILABLE]" in reply.upper()) from None
    except BaseException:
        imap.shutdown()
        raise
    return imap


def _logout(imap: imaplib.IMAP4) -> None:
    try:
        imap.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


# -- verifying a login (the "Other" connect form) ---------------------------------------------

def verify_login(settings: SmtpImapSettings, *, ca_file: str | None = None, timeout: float = 15) -> None:
    """Log in to SMTP and to IMAP, then out. Raises LoginRefused naming the form field to fix."""
    context = _tls_context(ca_file)
    _verify_smtp(settings, context, timeout)
    _verify_imap(settings, context, timeout)


def _verify_smtp(settings: SmtpImapSettings, context: ssl.SSLContext, timeout: float) -> None:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        smtp = _connect_smtp(settings, context, timeout)
    except smtplib.SMTPAuthenticationError as exc:
        said = _scrub(exc.smtp_error, settings.password)
        raise LoginRefused(f"{APP_PASSWORD_HINT} (SMTP server said: {exc.smtp_code} {said})", "password") from None
    except smtplib.SMTPNotSupportedError:
        raise LoginRefused(
            f"The SMTP server at {where} does not offer STARTTLS or login. Check the port and the security "
            "setting: 587 usually takes STARTTLS, 465 implicit TLS (SSL).", "smtp_port") from None
    except smtplib.SMTPResponseException as exc:
        said = _scrub(exc.smtp_error, settings.password)
        raise LoginRefused(f"The SMTP server at {where} refused the connection: {exc.smtp_code} {said}",
                           "smtp_host") from None
    except UnicodeError:
        raise LoginRefused("The user name or app password contains characters the SMTP server cannot take.",
                           "password") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _unreachable("SMTP", where, exc, "smtp") from None
    _close_smtp(smtp)


def _verify_imap(settings: SmtpImapSettings, context: ssl.SSLContext, timeout: float) -> None:
    where = f"{settings.imap_host}:{settings.imap_port}"
    try:
        imap = _connect_imap(settings, context, timeout)
    except _ImapLoginFailed as exc:
        if exc.unavailable:
            raise LoginRefused(f"The IMAP server at {where} is unavailable right now ({exc.reply}). "
                               "Try again in a few minutes.", "imap_host") from None
        raise LoginRefused(f"{APP_PASSWORD_HINT} (IMAP server said: {exc.reply})", "password") from None
    except UnicodeError:
        raise LoginRefused("The user name or app password contains characters the IMAP server cannot take.",
                           "password") from None
    except imaplib.IMAP4.error as exc:  # a greeting that is not IMAP, or a dropped connection
        raise LoginRefused(f"The server at {where} did not answer as an IMAP server should "
                           f"({type(exc).__name__}). Check the IMAP port (usually 993).", "imap_port") from None
    except OSError as exc:
        raise _unreachable("IMAP", where, exc, "imap") from None
    _logout(imap)


def _unreachable(service: str, where: str, exc: OSError, prefix: str) -> LoginRefused:
    """Which field to blame for a connection that failed before any login."""
    problem = _network_problem(exc)
    if isinstance(exc, socket.gaierror):
        return LoginRefused(f"Could not reach the {service} server {where}: {problem}. Check the server name.",
                            f"{prefix}_host")
    if isinstance(exc, ssl.SSLError):
        hint = (" Check the port and the security setting: 587 usually takes STARTTLS, 465 implicit TLS (SSL)."
                if service == "SMTP" else " IMAP needs implicit TLS, usually on port 993.")
        return LoginRefused(f"Could not connect securely to the {service} server {where}: {problem}.{hint}",
                            f"{prefix}_port")
    if isinstance(exc, (ConnectionRefusedError, TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError)):
        return LoginRefused(f"Could not connect to the {service} server {where}: {problem}. "
                            "Check the port (and that a firewall does not block it).", f"{prefix}_port")
    return LoginRefused(f"Could not connect to the {service} server {where}: {problem}. Check the server name.",
                        f"{prefix}_host")


# -- mapping SMTP answers to the engine's errors -----------------------------------------------

def _error_for_reply(code: int, text: bytes | str, password: str) -> ProviderError:
    """5xx: this message will never go out as it is. 4xx: try later; 4xx about rate or volume is
    throttling (RateLimited, 60 s). A 5xx about the sending quota is throttling too (an hour)."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    message = f"SMTP server answered {code} {_scrub(raw, password)}"
    if 500 <= code < 600 and _SENDING_QUOTA.search(raw):
        return RateLimited(message, retry_after=DAILY_LIMIT_RETRY_AFTER)
    if 500 <= code < 600:
        return PermanentFailure(message)
    if 400 <= code < 500 and _THROTTLED.search(raw):
        return RateLimited(message, retry_after=RATE_LIMIT_RETRY_AFTER)
    return TemporaryFailure(message)


class _InDoubt(Exception):
    """The whole message was transmitted but no final answer came: it may well have gone out."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(_network_problem(cause))


def _dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload (RFC 5321 4.5.2): CRLF line ends, leading dots doubled, ends with CRLF.CRLF."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _transmit(smtp: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> None:
    """MAIL, RCPT, DATA once each, like smtplib's sendmail, but telling apart a failure before the
    message was transmitted (surely not sent) from one after it (_InDoubt)."""
    code, reply = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = smtp.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    try:
        smtp.send(_dot_stuffed(raw))
        code, reply = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise _InDoubt(exc) from None
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


# -- IMAP helpers ------------------------------------------------------------------------------

class SmtpImapProvider(MailProvider):
    def __init__(self, credentials: bytes, *, ca_file: str | None = None, enhanced: bool = False,
                 timeout: float = 30) -> None:
        self.settings = SmtpImapSettings.from_credentials(credentials)
        self.enhanced = enhanced
        self.timeout = timeout
        self._context = _tls_context(ca_file)

    def __repr__(self) -> str:
        return f"SmtpImapProvider({self.settings.address!r}, enhanced={self.enhanced})"

    def address(self) -> str:
        return self.settings.address

    # -- sending ---------------------------------------------------------------------------------
    def send(self, email: OutgoingEmail) -> SentMessage:
        raw = email.to_bytes()
        try:
            self._submit(email.to_address, raw)
        except _InDoubt as exc:
            log.warning("SMTP answer for %s lost after the message was transmitted (%s): filing the Sent "
                        "copy so reconciliation treats it as sent", email.message_id, exc)
            self._save_copy(email.message_id, raw)
            raise TemporaryFailure(f"SMTP: {exc} after the message was transmitted; it may have gone out "
                                   "(reconcile before sending again)") from None
        self._save_copy(email.message_id, raw)
        return SentMessage(email.message_id, provider_message_id=email.message_id, thread_id=None)

    def _submit(self, recipient: str, raw: bytes) -> None:
        """One SMTP transaction on a fresh connection, each failure mapped to one typed error."""
        password = self.settings.password
        try:
            smtp = _connect_smtp(self.settings, self._context, self.timeout)
        except smtplib.SMTPAuthenticationError as exc:
            raise ReconnectNeeded("the server refused the saved app password: reconnect "
                                  f"({exc.smtp_code} {_scrub(exc.smtp_error, password)})") from None
        except UnicodeError:
            raise ReconnectNeeded("the saved user name or app password cannot be sent to the server: "
                                  "reconnect") from None
        except smtplib.SMTPNotSupportedError:
            raise TemporaryFailure("SMTP server no longer offers STARTTLS or login") from None
        except smtplib.SMTPResponseException as exc:  # greeting, EHLO or STARTTLS refused
            error = _error_for_reply(exc.smtp_code, exc.smtp_error, password)
            if isinstance(error, PermanentFailure):  # about the session, not this message: never fail it
                error = TemporaryFailure(f"{error} (before sending)")
            raise error from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"SMTP: {_network_problem(exc)} (before sending)") from None
        try:
            _transmit(smtp, self.settings.address, recipient, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _error_for_reply(code, reply, password) from None
        except smtplib.SMTPResponseException as exc:  # SMTPSenderRefused, SMTPDataError
            raise _error_for_reply(exc.smtp_code, exc.smtp_error, password) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"SMTP: {_network_problem(exc)} (before the message was sent)") from None
        finally:
            _close_smtp(smtp)

    def _save_copy(self, message_id: str, raw: bytes) -> None:
        """APPEND to Sent. The message went out whatever happens here, so failures only warn."""
        if not self.settings.save_sent:
            return
        try:
            with self._imap("APPEND") as imap:
                folder = find_sent_folder(imap)
                typ, data = imap.append(quoted(folder), r"(\Seen)", None, raw)
                if typ != "OK" and "[TRYCREATE]" in reply_text(data).upper():
                    imap.create(quoted(folder))
                    typ, data = imap.append(quoted(folder), r"(\Seen)", None, raw)
                check_ok(typ, data, "APPEND")
        except ProviderError as exc:
            log.warning("sent %s but could not file a copy in Sent (%s): %s", message_id,
                        type(exc).__name__, exc)
        except Exception as exc:  # noqa: BLE001 - anything raised here would read as a failed send
            log.warning("sent %s but could not file a copy in Sent (unexpected %s)", message_id,
                        type(exc).__name__)

    # -- reading ---------------------------------------------------------------------------------
    def find_sent(self, message_id: str, lookup: SentLookup | None = None) -> SentMessage | None:
        with self._imap("find_sent") as imap:
            select_folder(imap, find_sent_folder(imap))
            typ, data = imap.uid("SEARCH", "HEADER", "Message-ID", quoted(message_id))
            check_ok(typ, data, "SEARCH")
            uids = b" ".join(d for d in data if isinstance(d, bytes)).split()
            if not uids:
                return None
            # HEADER search matches substrings: confirm the exact Message-ID.
            typ, data = imap.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            check_ok(typ, data, "FETCH")
            for _, _, header in fetched(data):
                found = BytesHeaderParser(policy=policy.compat32).parsebytes(header)["Message-ID"]
                if found is not None and str(found).strip() == message_id:
                    return SentMessage(message_id, provider_message_id=message_id, thread_id=None)
            return None

    def fetch_changes(self, cursor: str | None) -> Changes:
        """New INBOX mail since `cursor` ("UIDVALIDITY:LASTUID"), over one IMAP connection.

        EXAMINE gives UIDVALIDITY and UIDNEXT: None starts from now (UIDNEXT-1, no messages), and
        when UIDNEXT-1 is not above the cursor nothing is new and nothing is fetched. Otherwise one
        UID FETCH of BODY.PEEK[HEADER] (basic) or BODY.PEEK[] (enhanced) after the cursor; nothing
        is marked read. A changed UIDVALIDITY (or a cursor that is not ours) makes every UID we knew
        meaningless: a full resync, bounded to the newest RESYNC_MAX_MESSAGES received in the last
        RESYNC_DAYS (`full_resync=True`). Messages may come again after a resync: the caller dedupes
        by provider_message_id ("UIDVALIDITY:UID")."""
        with self._imap("fetch_changes") as imap:
            box = select_folder(imap, "INBOX")
            validity, newest = box["UIDVALIDITY"], box["UIDNEXT"] - 1
            if cursor is None:  # start from now
                return Changes(messages=[], cursor=f"{validity}:{newest}")
            parsed = parse_cursor(cursor)
            if parsed is None or parsed[0] != validity:
                messages = self._fetch(imap, validity, self._recent_uids(imap))
                return Changes(messages=messages, cursor=f"{validity}:{self._highest(messages, newest)}",
                               full_resync=True)
            last_uid = parsed[1]
            if newest <= last_uid or not box["EXISTS"]:
                # Nothing new; with an empty INBOX the cursor still moves on past deleted mail.
                return Changes(messages=[], cursor=f"{validity}:{max(newest, last_uid)}")
            messages = self._fetch(imap, validity, f"{last_uid + 1}:*", after=last_uid)
            # Every UID below UIDNEXT was assigned before EXAMINE: the ones FETCH did not return were
            # deleted, so the cursor moves past them (else each later poll would FETCH again).
            return Changes(messages=messages, cursor=f"{validity}:{self._highest(messages, newest)}")

    @staticmethod
    def _highest(messages: list[InboundMessage], floor: int) -> int:
        return max([floor, *(int(m.provider_message_id.rpartition(":")[2]) for m in messages)])

    def _recent_uids(self, imap: imaplib.IMAP4) -> str | None:
        """The UIDs of the newest RESYNC_MAX_MESSAGES received in the last RESYNC_DAYS (SEARCH SINCE
        compares the server's INTERNALDATE, by day), as a UID set; None when there are none."""
        since = datetime.now(timezone.utc) - timedelta(days=RESYNC_DAYS)
        typ, data = imap.uid("SEARCH", "SINCE", search_date(since))
        check_ok(typ, data, "SEARCH")
        uids = sorted(int(u) for u in b" ".join(d for d in data if isinstance(d, bytes)).split())
        return ",".join(map(str, uids[-RESYNC_MAX_MESSAGES:])) or None

    def _fetch(self, imap: imaplib.IMAP4, validity: int, uids: str | None, *, after: int = 0) -> list[InboundMessage]:
        """The messages of a UID set (headers, or whole under enhanced), oldest first; UIDs not
        above `after` are left out ("N:*" always names the newest message, even below N)."""
        if uids is None:
            return []
        part = "BODY.PEEK[]" if self.enhanced else "BODY.PEEK[HEADER]"
        typ, data = imap.uid("FETCH", uids, f"(UID INTERNALDATE {part})")
        check_ok(typ, data, "FETCH")
        found = {uid: self._inbound(validity, uid, received_at, raw)
                 for uid, received_at, raw in fetched(data) if uid > after}
        return [found[uid] for uid in sorted(found)]

    def _inbound(self, validity: int, uid: int, received_at: datetime | None, raw: bytes) -> InboundMessage:
        full: Message | None = None
        if self.enhanced:
            full = BytesParser(policy=policy.default).parsebytes(raw)
            headers: Message = full
        else:
            headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        return InboundMessage(provider_message_id=f"{validity}:{uid}", thread_id=None, headers=headers,
                              received_at=received_at or datetime.now(timezone.utc), full=full)

    @contextmanager
    def _imap(self, action: str) -> Iterator[imaplib.IMAP4]:
        """A logged-in IMAP session; every failure becomes ReconnectNeeded or TemporaryFailure."""
        try:
            imap = _connect_imap(self.settings, self._context, self.timeout)
        except _ImapLoginFailed as exc:
            if exc.unavailable:
                raise TemporaryFailure(f"IMAP {action}: server unavailable ({exc.reply})") from None
            if _IMAP_THROTTLED.search(exc.reply):  # the password is fine: too many connections or commands
                raise RateLimited(f"IMAP {action}: the server is limiting this mailbox ({exc.reply})",
                                  retry_after=RATE_LIMIT_RETRY_AFTER) from None
            raise ReconnectNeeded(f"the IMAP server refused the saved app password: reconnect ({exc.reply})") from None
        except UnicodeError:
            raise ReconnectNeeded("the saved user name or app password cannot be sent to the server: "
                                  "reconnect") from None
        except (imaplib.IMAP4.error, OSError) as exc:
            raise TemporaryFailure(f"IMAP {action}: {self._describe(exc)}") from None
        try:
            yield imap
        except (imaplib.IMAP4.error, OSError) as exc:
            raise TemporaryFailure(f"IMAP {action}: {self._describe(exc)}") from None
        finally:
            _logout(imap)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, OSError):
            return _network_problem(exc)
        return f"{type(exc).__name__}: {_scrub(str(exc), self.settings.password)}"
