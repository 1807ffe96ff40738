"""What an inbound message is: a candidate's reply, an auto-reply, a bounce, a complaint, or something else.

Pure: no database, no network. The caller matches the message to an enrollment (thread, In-Reply-To,
the candidate's address in From) and decides what follows; this module only says what kind of mail
it is, which addresses a bounce reports as failing (or a complaint as reporting), whether the failure
is permanent, and the Message-ID of the message a complaint reports.

Two modes, for the two permission levels (SPEC "Replies, bounces, out-of-office"):
- headers only (basic permissions: Gmail `metadata`, Graph `Mail.ReadBasic`, IMAP `BODY.PEEK[HEADER]`):
  only header fields are read, even when a body is present;
- full (enhanced permissions): the body is read too, when there is one: the `message/delivery-status`
  part of a bounce (RFC 3464: Original-/Final-Recipient, Action, Status 5.x.x permanent, 4.x.x
  temporary), `flufl.bounce`'s detectors for bounces without one, the notification's wording for
  permanence, and out-of-office wording in a message with no auto-reply headers. The body is read and
  dropped: nothing of it is kept (SPEC "Data kept").

The first rule that holds decides (`Verdict.reason` names it):
  1. From one of the mailbox's own addresses → other (the recruiter's follow-up from another client)
 1b. an abuse or feedback report (providers.complaint_reports): multipart/report with
     report-type=feedback-report (ARF, RFC 5965), or a feedback loop's notice ("complaint about message
     from …" from staff@, feedback@, …); (full) a message/feedback-report part anywhere, or a reported
     message carrying X-HmXmrOriginalRecipient → complaint, never a reply. A feedback report of another
     type (auth-failure, RFC 6591) → other.
  2. a delivery or read receipt (Delivered:, Relayed:, Read:, report-type=disposition-notification) → other
  3. bounce headers: X-Failed-Recipients, X-MS-Exchange-Message-Is-Ndr, multipart/report with
     report-type=delivery-status, From mailer-daemon/postmaster, a bounce subject ("Undeliverable",
     "Delivery Status Notification (Failure|Delay)", "Mail delivery failed", "Returned mail", …), or an
     empty Return-Path with a subject about delivery → bounce. A bounce that also carries
     Auto-Submitted (they all should) is a bounce: this rule comes before the auto-reply rules.
  4. (full) a delivery-status part reporting failed or delayed recipients → bounce
 4b. (full, not Re:/Fwd:, not a newsletter) a relay's JSON event or a plain-text notice opening the
     body (providers.bounce_formats: SES, SendGrid, Mailgun, Postmark; qmail, Exim, Postfix, Domino,
     GroupWise, list managers, carriers, Japanese mobile operators) that names a failing address
     → bounce (a relay's spam-report event → complaint). Under rule 3 the same readers name the
     recipients when the delivery-status part and flufl.bounce found none.
  5. auto-reply headers: Auto-Submitted other than "no", X-Autoreply, X-Autorespond, X-Autoresponder,
     Precedence: auto_reply, X-MS-Exchange-Inbox-Rules-Loop, X-MS-Exchange-Generated-Message-Source:
     Mailbox Rules Agent (Exchange's out-of-office), or a subject that starts like an auto-reply
     ("Automatic reply", "Auto:", "Out of Office", "OOF:", "Abwesenheitsnotiz", "Réponse automatique",
     …) → auto_reply. X-Auto-Response-Suppress is not a signal: Exchange stamps it on ordinary mail.
  6. mailing lists and bulk mail: List-Id or List-Post, or Precedence bulk/junk/list with
     List-Unsubscribe → other; Precedence bulk/junk/list alone (what vacation(1) sends) → auto_reply
  7. (full) an empty Return-Path and `flufl.bounce` finds failing recipients in the body → bounce
  8. no sender address, or a no-reply sender → other
  9. (full) out-of-office wording at the top of the new text, with a return date or similar → auto_reply
 10. anything else → reply (a plausible human message; whether it answers a candidate is the caller's call)

Subjects are matched at their start and never after stripping "Re:"/"Fwd:": "Re: Automatic reply: …"
is a person answering an auto-reply, which is a reply. Never raises on bad mail: what cannot be read
is `other`.
"""
from __future__ import annotations

import html
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses

import flufl.bounce

from providers import bounce_formats, complaint_reports
from providers.base import InboundKind
from providers.mail_text import MAIL_ERRORS as _MAIL_ERRORS
from providers.mail_text import Headers as _Headers
from providers.mail_text import address as _address
from providers.mail_text import content_type as _content_type
from providers.mail_text import decoded as _decoded
from providers.mail_text import field as _field
from providers.mail_text import ordered as _ordered
from providers.mail_text import parts as _parts
from providers.mail_text import payload_bytes as _payload_bytes

log = logging.getLogger(__name__)

# flufl.bounce narrates each of its detectors at INFO, and logs a traceback before re-raising a
# detector's crash; we catch that crash ourselves (below). Quiet it unless someone configured it.
_flufl_log = logging.getLogger("flufl.bounce")
if _flufl_log.level == logging.NOTSET:
    _flufl_log.setLevel(logging.CRITICAL)

_MAX_TEXT = 20_000  # characters of a body part read in full mode


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: InboundKind
    recipients: tuple[str, ...] = ()  # failing recipients of a bounce, lower-case
    permanent: bool | None = None  # a bounce's failure: True 5.x.x, False 4.x.x / delayed, None unknown
    reason: str = ""  # which signal decided, for logs and tests
    message_id: str | None = None  # a complaint's reported message (its Message-ID, <…>): finds our send


def classify(message: Message, *, own_addresses: Collection[str] = (), headers_only: bool = False) -> Verdict:
    """The kind of `message` (see the module's rules). `own_addresses` are the mailbox's own
    addresses; `headers_only` reads nothing but header fields, as basic permissions allow."""
    try:
        return _classify(message, own_addresses, headers_only)
    except _MAIL_ERRORS as exc:
        log.debug("unreadable inbound message: %r", exc)
        failure = type(exc).__name__
    if not headers_only:  # a body we cannot read: what the headers say still holds
        try:
            verdict = _classify(message, own_addresses, True)
            return replace(verdict, reason=f"{verdict.reason} (body unreadable: {failure})")
        except _MAIL_ERRORS:
            pass
    return Verdict(InboundKind.OTHER, reason=f"unreadable message ({failure})")


def parse_message(data: bytes, *, headers_only: bool = False) -> Message:
    """`data` as a message, under the policy the providers use; only its header block when
    `headers_only` (what basic permissions fetch)."""
    if headers_only:
        end = re.search(rb"\r?\n\r?\n", data)
        data = data[:end.end()] if end else data
    return BytesParser(policy=policy.default).parsebytes(data)


# -- the rules ------------------------------------------------------------------------------------


def _classify(message: Message, own_addresses: Collection[str], headers_only: bool) -> Verdict:
    headers = _Headers(message)
    full = not headers_only  # a message without a body has nothing more to say in full mode
    sender = _address(headers.get("from"))
    own = {_address(a) or a.strip().lower() for a in own_addresses}
    if sender and sender in own:
        return Verdict(InboundKind.OTHER, reason="from the mailbox itself")

    subject = headers.subject()
    content_type = headers.get("content-type")
    complaint = _complaint(message, headers, sender, subject, content_type, own, full=full)
    if complaint:
        return complaint
    receipt = _receipt(headers, subject, content_type)
    if receipt:
        return Verdict(InboundKind.OTHER, reason=receipt)

    bounce = _bounce_signal(headers, sender, subject, content_type)
    if bounce:
        return _bounce(message, headers, subject, reason=bounce, full=full, own=own)
    if full:
        report = _delivery_status(message)
        if report.recipients:
            return Verdict(InboundKind.BOUNCE, report.recipients, report.permanent, "delivery-status part")
        other_format = _other_format(message, subject, own)
        # Without a bounce header, a notice must name who failed, and a newsletter is never one.
        if other_format and (other_format.recipients or other_format.kind is InboundKind.COMPLAINT) \
                and not headers.has("list-unsubscribe"):
            return other_format

    auto = _auto_reply_signal(headers, subject)
    if auto:
        return Verdict(InboundKind.AUTO_REPLY, reason=auto)
    bulk = _bulk_signal(headers)
    if bulk:
        return bulk

    if full and _null_sender(headers):
        temporary, permanent = _flufl_failures(message)
        if temporary or permanent:
            return Verdict(InboundKind.BOUNCE, _ordered(permanent | temporary), bool(permanent),
                           "empty Return-Path, flufl.bounce found failures")

    if not sender:
        return Verdict(InboundKind.OTHER, reason="no sender address")
    if _NO_REPLY.fullmatch(sender.partition("@")[0].partition("+")[0]):
        return Verdict(InboundKind.OTHER, reason="no-reply sender")
    if full and _out_of_office_text(message):
        return Verdict(InboundKind.AUTO_REPLY, reason="body: out-of-office text")
    return Verdict(InboundKind.REPLY, reason="plausible human message")


# -- header signals -------------------------------------------------------------------------------

_RECEIPT_SUBJECT = re.compile(
    r"\s*(?:(?:read|not read|delivered|relayed|expanded|gelesen|zugestellt|lu|entregado|leído)\s*:"
    r"|delivery status notification \((?:success|relay)\)|successful mail delivery report|return receipt\b)",
    re.IGNORECASE)

# Subjects bounces start with (Postfix, Exim, Sendmail, qmail, Exchange/Office 365, Gmail, Yahoo, …).
_BOUNCE_SUBJECT = re.compile(
    r"\s*(?:undeliverable\b|undelivered mail|undeliverable mail|delivery status notification"
    r"|mail delivery failed|mail delivery failure|returned mail\b|delivery failure|failure notice"
    r"|delivery (?:has )?failed|non[- ]?delivery|message not delivered|delivery delayed|delayed mail"
    r"|warning: message \S+ delayed|unzustellbar|non remis|non distribuable|no se puede entregar)",
    re.IGNORECASE)
_DELIVERY_WORDS = re.compile(r"deliver|returned|fail|bounce|rejected|could not be sent|zustell|remis", re.IGNORECASE)
# Only the start of a subject speaks for the bounce: the original subject often follows it.
_PERMANENT_SUBJECT = re.compile(r"\s*delivery status notification \(failure\)", re.IGNORECASE)
_TEMPORARY_SUBJECT = re.compile(
    r"\s*(?:delivery status notification \(delay\)|delayed mail|delivery delayed|warning: message \S+ delayed)",
    re.IGNORECASE)
_DAEMONS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster"})

# Subjects auto-replies start with: RFC 3834 implementations and Outlook/Exchange in a few languages.
_AUTO_SUBJECT = re.compile(
    r"\s*(?:auto(?:matic)?[- ]?reply|auto(?:matic)? response|auto:|out of (?:the )?office|oof:"
    r"|abwesenheitsnotiz|automatische antwort|réponse automatique|respuesta automática|risposta automatica"
    r"|automatisch antwoord|resposta automática|autosvar|automaattinen vastaus)",
    re.IGNORECASE)
# What a subject starts with when a person answers or forwards: never read as a bounce's subject.
_REPLY_PREFIX = re.compile(r"\s*(?:re|fw|fwd|aw|wg|sv|vs|tr|rv|ref)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_NO_REPLY = re.compile(r"(?:no|do[-_.]?not)[-_.]?reply", re.IGNORECASE)


def _receipt(headers: _Headers, subject: str, content_type: str) -> str | None:
    if _report_type(content_type) == "disposition-notification":
        return "read receipt (disposition-notification)"
    if _RECEIPT_SUBJECT.match(subject) and not headers.has("x-failed-recipients"):
        return "delivery or read receipt (subject)"
    return None


def _bounce_signal(headers: _Headers, sender: str, subject: str, content_type: str) -> str | None:
    if headers.get("x-failed-recipients"):
        return "X-Failed-Recipients"
    if headers.has("x-ms-exchange-message-is-ndr"):
        return "X-MS-Exchange-Message-Is-Ndr"
    if content_type.partition(";")[0].strip().lower() == "multipart/report" \
            and _report_type(content_type) == "delivery-status":
        return "multipart/report delivery-status"
    local = sender.partition("@")[0] if sender else ""
    if local in _DAEMONS or (not sender and "mailer-daemon" in headers.get("from").lower()):
        return f"from {local or 'mailer-daemon'}"
    if _BOUNCE_SUBJECT.match(subject):
        return "bounce subject"
    if _null_sender(headers) and _DELIVERY_WORDS.search(subject) \
            and not _REPLY_PREFIX.match(subject) and not _AUTO_SUBJECT.match(subject):
        return "empty Return-Path and a delivery subject"
    return None


def _auto_reply_signal(headers: _Headers, subject: str) -> str | None:
    submitted = headers.get("auto-submitted").lower()
    if submitted and not submitted.startswith("no"):
        return f"Auto-Submitted: {submitted.partition(';')[0].strip()}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if headers.has(name) and headers.get(name).lower() not in ("no", "false", "0"):
            return name
    if headers.get("precedence").lower() == "auto_reply":
        return "Precedence: auto_reply"
    if headers.has("x-ms-exchange-inbox-rules-loop"):
        return "X-MS-Exchange-Inbox-Rules-Loop"
    if headers.get("x-ms-exchange-generated-message-source").lower() == "mailbox rules agent":
        return "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent"
    if _AUTO_SUBJECT.match(subject):
        return "auto-reply subject"
    return None


def _bulk_signal(headers: _Headers) -> Verdict | None:
    if headers.has("list-id") or headers.has("list-post"):
        return Verdict(InboundKind.OTHER, reason="mailing list (List-Id)")
    precedence = headers.get("precedence").lower()
    if precedence in ("bulk", "junk", "list"):
        if headers.has("list-unsubscribe"):
            return Verdict(InboundKind.OTHER, reason=f"bulk mail (Precedence: {precedence}, List-Unsubscribe)")
        return Verdict(InboundKind.AUTO_REPLY, reason=f"Precedence: {precedence}")
    return None


def _null_sender(headers: _Headers) -> bool:
    return headers.has("return-path") and headers.get("return-path").lower() in ("<>", "", "<mailer-daemon>")


def _report_type(content_type: str) -> str:
    found = re.search(r"report-type\s*=\s*\"?([\w.-]+)", content_type, re.IGNORECASE)
    return found.group(1).lower() if found else ""


# -- bounces ----------------------------------------------------------------------------------------


def _bounce(message: Message, headers: _Headers, subject: str, *, reason: str, full: bool,
            own: Collection[str]) -> Verdict:
    recipients = _ordered(_address(a) for a in _failed_recipients(headers))
    permanent: bool | None = None
    if _PERMANENT_SUBJECT.match(subject):
        permanent = True
    elif _TEMPORARY_SUBJECT.match(subject):
        permanent = False
    if not full:
        return Verdict(InboundKind.BOUNCE, recipients, permanent, reason)

    report = _delivery_status(message)
    if report.recipients:
        return Verdict(InboundKind.BOUNCE, report.recipients,
                       report.permanent if report.permanent is not None else permanent,
                       f"{reason} + delivery-status part")
    if report.only_successes:
        return Verdict(InboundKind.OTHER, reason="delivery report without failures")
    if not recipients:
        temporary, failed = _flufl_failures(message)
        recipients = _ordered(failed | temporary)
        if recipients:
            reason += " + flufl.bounce"
            if permanent is None and not failed:
                permanent = False  # flufl's warning detectors report delays as temporary
    if not recipients:  # a relay's JSON event, or a notice flufl.bounce does not know
        other_format = _other_format(message, subject, own)
        if other_format:
            if other_format.kind is InboundKind.COMPLAINT:
                return other_format
            recipients = other_format.recipients
            reason += f" + {other_format.reason}"
            permanent = other_format.permanent if permanent is None else permanent
    if permanent is None:
        permanent = _permanence_in_text(_first_text(message))
    return Verdict(InboundKind.BOUNCE, recipients, permanent, reason)


def _other_format(message: Message, subject: str, own_addresses: Collection[str]) -> Verdict | None:
    """(full) a relay's JSON notification or a plain-text notice (providers.bounce_formats); never for
    a message a person answers or forwards."""
    if _REPLY_PREFIX.match(subject):
        return None
    found = bounce_formats.json_notification(message) or bounce_formats.text_notice(message, own_addresses)
    if found is None:
        return None
    kind = InboundKind.COMPLAINT if found.complaint else InboundKind.BOUNCE
    return Verdict(kind, found.recipients, None if found.complaint else found.permanent, found.reason,
                   found.message_id)


def _complaint(message: Message, headers: _Headers, sender: str, subject: str, content_type: str,
               own: Collection[str], *, full: bool) -> Verdict | None:
    """An abuse or feedback report (providers.complaint_reports): from its headers, or (full) from a
    feedback-report part or a reported message anywhere in the body."""
    signal = complaint_reports.header_signal(headers, sender, subject, _report_type(content_type))
    if not full:
        return Verdict(InboundKind.COMPLAINT, reason=signal) if signal else None
    if not signal and (_REPLY_PREFIX.match(subject) or not content_type.lower().lstrip().startswith("multipart/")):
        return None  # a person forwarding a report is not one; a report always has parts (a fifth of the cost)
    report = complaint_reports.read(message, own)
    if report is None:
        return Verdict(InboundKind.COMPLAINT, reason=signal) if signal else None
    if not report.is_complaint:
        return Verdict(InboundKind.OTHER, reason=report.reason)
    return Verdict(InboundKind.COMPLAINT, report.recipients, None, signal or report.reason, report.message_id)


def _failed_recipients(headers: _Headers) -> list[str]:
    return [address for _, address in getaddresses(headers.all("x-failed-recipients"))]


@dataclass(frozen=True, slots=True)
class _Report:
    recipients: tuple[str, ...] = ()
    permanent: bool | None = None
    only_successes: bool = False


def _delivery_status(message: Message) -> _Report:
    """The failed and delayed recipients of the message's delivery-status parts (RFC 3464)."""
    failing: list[str] = []
    permanent: list[bool] = []
    successes = 0
    for part in _parts(message):
        if _content_type(part) != "message/delivery-status":
            continue
        for block in _status_blocks(part):
            fields = _Headers(block)
            action = fields.get("action").lower()
            code = fields.get("status")[:1]
            if action.startswith(("delivered", "relayed", "expanded")) or code == "2":
                successes += 1
                continue
            if code == "5" or (not code and action.startswith(("failed", "error"))):
                permanent.append(True)
            elif code == "4" or (not code and action.startswith("delayed")):
                permanent.append(False)
            else:
                continue  # the per-message block (Reporting-MTA, Arrival-Date), or nothing we know
            address = next(filter(None, (_dsn_address(fields.get(name)) for name in
                                         ("original-recipient", "final-recipient", "x-actual-recipient"))), "")
            if address:
                failing.append(address)
    if not failing:
        return _Report(only_successes=successes > 0 and not permanent)
    return _Report(_ordered(failing), any(permanent))


def _status_blocks(part: Message) -> list[Message]:
    if part.is_multipart():
        return [block for block in part.get_payload() if isinstance(block, Message)]
    # A delivery-status part the parser left as text (an unusual transfer encoding): read its blocks.
    text = _payload_bytes(part).decode("utf-8", "replace")
    return [HeaderParser().parsestr(chunk) for chunk in re.split(r"\r?\n[ \t]*\r?\n", text) if chunk.strip()]


def _dsn_address(value: str) -> str:
    """`rfc822; Ana@Example.com` → `ana@example.com`; '' for what is not a mail address (Exim can
    report a mailbox file path)."""
    address = value.rpartition(";")[2].strip().strip("<>").strip().lower()
    return address if "@" in address and not any(c.isspace() for c in address) else ""


def _flufl_failures(message: Message) -> tuple[set[str], set[str]]:
    """flufl.bounce's (temporary, permanent) failing addresses, for bounces without a DSN part."""
    try:
        temporary, permanent = flufl.bounce.all_failures(message)
    except Exception as exc:  # 17 heuristic detectors over hostile input: a crash in one must not stop us
        log.debug("flufl.bounce failed on an inbound message: %r", exc)
        return set(), set()
    return _ascii_addresses(temporary), _ascii_addresses(permanent)


def _ascii_addresses(found: Collection[bytes]) -> set[str]:
    addresses = set()
    for item in found:
        address = item.decode("ascii", "replace").strip().strip("<>").lower()
        if "@" in address:
            addresses.add(address)
    return addresses


def _permanence_in_text(text: str) -> bool | None:
    return bounce_formats.permanence(text)


# -- out-of-office wording (full mode) --------------------------------------------------------------

# A phrase saying the writer is away, near the top of the new text, and a word about coming back:
# "I'm out of the office next week, but yes, let's talk" stays a reply.
_OOF_PHRASE = re.compile(
    r"\b(?:i\s+am|i['’]m|i\s+will\s+be)\s+(?:currently\s+|now\s+)?(?:out\s+of\s+(?:the\s+)?office"
    r"|away\s+from\s+(?:the\s+|my\s+)?(?:office|desk|e-?mail)"
    r"|on\s+(?:annual\s+|parental\s+|maternity\s+|paternity\s+|sick\s+)?leave|on\s+(?:vacation|holiday))"
    r"|\b(?:bin\s+ich|ich\s+bin)\b[^.]{0,80}?(?:nicht\s+im\s+büro|abwesend|im\s+urlaub|außer\s+haus)"
    r"|\bje\s+suis\s+(?:actuellement\s+)?(?:absente?|en\s+congés?|en\s+vacances|en\s+déplacement)"
    r"|\b(?:estoy|me\s+encuentro)\s+(?:actualmente\s+)?(?:fuera\s+de\s+la\s+oficina|de\s+vacaciones|ausente)")
_OOF_RETURN = re.compile(
    r"\b(?:until|till|through|returning|i\s+will\s+return|back\s+(?:on|in)|limited\s+access"
    r"|bis|zurück|wieder|jusqu|retour|hasta|regreso|volveré)\b")
_OOF_WINDOW = 400  # characters of the new text the phrase must start in
_OOF_MAX_TEXT = 1500  # a longer new text is a person writing, whatever it says
# Where quoted text starts in a reply: "> …", "On … wrote:", Outlook's header block and separators.
_QUOTE_START = re.compile(
    r"^\s*(?:>|on\b.*\bwrote:\s*$|am\b.*\bschrieb\b|le\b.*\ba écrit|el\b.*\bescribió"
    r"|-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|forwarded message)"
    r"|_{10,}\s*$|(?:from|von|de|da)\s?:\s.*)", re.IGNORECASE)
_HTML_QUOTE = re.compile(r"<(?:blockquote\b|div[^>]*(?:gmail_quote|divRplyFwdMsg|appendonsend)|hr\b)", re.IGNORECASE)


def _out_of_office_text(message: Message) -> bool:
    text = _new_text(message)
    if not text or len(text) > _OOF_MAX_TEXT:
        return False
    found = _OOF_PHRASE.search(text, 0, _OOF_WINDOW + 100)
    return bool(found and found.start() < _OOF_WINDOW and _OOF_RETURN.search(text))


def _new_text(message: Message) -> str:
    """The message's own words, lower-case with whitespace collapsed: its first text part without
    the quoted message it answers."""
    text = _first_text(message, cut_html_quotes=True)
    lines = []
    for line in text.splitlines():
        if _QUOTE_START.match(line):
            break
        lines.append(line)
    return " ".join(" ".join(lines).split()).lower()


def _first_text(message: Message, *, cut_html_quotes: bool = False) -> str:
    """The first plain-text part that is not an attachment (else the first HTML one, as text)."""
    plain = html_part = None
    for part in _parts(message):
        kind = _content_type(part)
        if part.is_multipart() or not kind.startswith("text/"):
            continue
        if _field(part, "content-disposition").lower().startswith("attachment"):
            continue
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html_part is None:
            html_part = part
        if plain is not None:
            break
    part = plain if plain is not None else html_part
    if part is None:
        return ""
    text = _decoded(part)[:_MAX_TEXT]
    if part is html_part:
        if cut_html_quotes:
            quote = _HTML_QUOTE.search(text)
            text = text[:quote.start()] if quote else text
        text = re.sub(r"<(?:br|/p|/div|/tr)\b[^>]*>", "\n", text, flags=re.IGNORECASE)
        text = re.sub(r"<style\b.*?</style>|<[^>]+>", " ", text, flags=re.IGNORECASE | re.DOTALL)
        text = html.unescape(text)
    return text


# -- reading a message: providers.mail_text ------------------------------------------------------
