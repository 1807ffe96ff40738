"""Bounce formats without an RFC 3464 delivery-status part, read from a body (enhanced permissions).

Pure, like the classifier that calls it (providers.classify); the body is read and dropped.

- Relays' JSON notifications, as a whole text or application/json part (or inside an Amazon SNS
  envelope's "Message" string): Amazon SES (`notificationType`/`eventType` Bounce or Complaint,
  `bounce.bounceType` Permanent/Transient/Undetermined, `bouncedRecipients[].emailAddress`,
  `complaint.complainedRecipients`, `mail.commonHeaders.messageId`); SendGrid's event webhook (a list
  of `{"event": "bounce"|"dropped"|"deferred"|"spamreport", "email": …}`); Mailgun
  (`event-data.event` failed with `severity` permanent/temporary, or complained); Postmark
  (`RecordType` Bounce with `Type` HardBounce/SoftBounce…, or SpamComplaint).
- Plain-text notices, recognised by the opening sentence their software writes at the top of the
  body, never anywhere else (a person quoting one stays a reply): qmail (QSBMF, "Hi. This is the
  qmail-send program"), Exim ("This message was created automatically by mail delivery software"),
  Postfix without DSN ("This is the mail system at host"), Sendmail ("The original message was
  received at"), Lotus Notes/Domino ("Your message … was not delivered to"), Novell GroupWise ("The
  message that you sent was undeliverable"/"could not be delivered to"), Mailman and majordomo ("Your
  message … could not be delivered", "delivery to the following recipient failed"), carriers' gateways
  ("This message could not be delivered", "Message delivery failed"), and Japanese mobile operators
  (docomo, au, SoftBank: "送信したメールは…届きませんでした", "…宛先に配信できませんでした", in
  ISO-2022-JP, Shift_JIS or UTF-8, which the part's charset decodes).
  The failing addresses are the ones the notice names before the copy of the original message.

Permanence: the server saying it gave up ("permanent error", "I've given up", "retry timeout
exceeded") is permanent; else a full mailbox is temporary ("mailbox full", "over quota", 容量オーバー),
whatever code it carries (5.2.2 often); else 5.x.x or "user unknown" is permanent; 4.x.x, "delayed",
"will retry" temporary; else unknown.
"""
from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from typing import Any

from providers.mail_text import content_type, decoded, field, parts

_MAX_JSON = 200_000  # characters of a JSON part worth parsing


@dataclass(frozen=True, slots=True)
class Found:
    complaint: bool  # a relay's spam report rather than a bounce
    recipients: tuple[str, ...]
    permanent: bool | None
    reason: str
    message_id: str | None = None


# -- JSON notifications --------------------------------------------------------------------------------


def json_notification(message: Message) -> Found | None:
    """A relay's bounce or complaint event in a part that is JSON and nothing else."""
    for part in parts(message):
        kind = content_type(part)
        if part.is_multipart() or kind not in ("application/json", "text/plain"):
            continue
        if kind == "text/plain" and not _may_be_json(part):
            continue  # most text parts are people's words: not worth decoding here
        text = decoded(part).strip()
        if not text.startswith(("{", "[")) or len(text) > _MAX_JSON:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        found = _event(data)
        if found is not None:
            return found
    return None


def _may_be_json(part: Message) -> bool:
    if field(part, "content-transfer-encoding").strip().lower() == "base64":
        return True  # the raw text cannot tell
    raw = part.get_payload(decode=False)
    return isinstance(raw, str) and raw.lstrip()[:1] in ("{", "[")


def _event(data: Any, depth: int = 0) -> Found | None:
    if depth > 2:
        return None
    if isinstance(data, list):  # SendGrid posts a batch of events
        events = [e for e in (_event(item, depth + 1) for item in data[:100]) if e is not None]
        if not events:
            return None
        complaint = events[0].complaint
        same = [e for e in events if e.complaint == complaint]
        permanence = [e.permanent for e in same if e.permanent is not None]
        return Found(complaint, _addresses(a for e in same for a in e.recipients),
                     any(permanence) if permanence else None, same[0].reason, same[0].message_id)
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("Message"), str) and data.get("Type") == "Notification":  # an SNS envelope
        try:
            return _event(json.loads(data["Message"]), depth + 1)
        except ValueError:
            return None
    kind = str(data.get("notificationType") or data.get("eventType") or "")
    if kind in ("Bounce", "Complaint"):
        return _ses(data, kind)
    if isinstance(data.get("event-data"), dict):
        return _mailgun(data["event-data"])
    if isinstance(data.get("RecordType"), str):
        return _postmark(data)
    if isinstance(data.get("event"), str) and isinstance(data.get("email"), str):
        return _sendgrid(data)
    return None


def _ses(data: dict[str, Any], kind: str) -> Found | None:
    mail = data.get("mail") if isinstance(data.get("mail"), dict) else {}
    common = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    message_id = _bracketed(common.get("messageId"))
    if kind == "Complaint":
        complaint = data.get("complaint") if isinstance(data.get("complaint"), dict) else {}
        return Found(True, _addresses(_each(complaint.get("complainedRecipients"), "emailAddress")), None,
                     "Amazon SES complaint notification", message_id)
    bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
    recipients = bounce.get("bouncedRecipients")
    kind_of = str(bounce.get("bounceType", "")).lower()
    permanent = {"permanent": True, "transient": False}.get(kind_of)
    if permanent is None:
        permanent = permanence(" ".join(str(r.get("status", "")) for r in recipients or [] if isinstance(r, dict)))
    return Found(False, _addresses(_each(recipients, "emailAddress")), permanent,
                 "Amazon SES bounce notification", message_id)


def _mailgun(event: dict[str, Any]) -> Found | None:
    kind = str(event.get("event", ""))
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    message_id = _bracketed(headers.get("message-id"))
    recipient = _addresses([event.get("recipient")])
    if kind == "complained":
        return Found(True, recipient, None, "Mailgun complaint event", message_id)
    if kind == "failed":
        severity = str(event.get("severity", "")).lower()
        return Found(False, recipient, {"permanent": True, "temporary": False}.get(severity),
                     "Mailgun failure event", message_id)
    return None


def _postmark(data: dict[str, Any]) -> Found | None:
    kind = data["RecordType"]
    recipient = _addresses([data.get("Email")])
    if kind == "SpamComplaint":
        return Found(True, recipient, None, "Postmark spam complaint")
    if kind == "Bounce":
        soft = {"SoftBounce", "Transient", "DnsError", "AutoResponder"}  # Postmark's kinds it retries
        if data.get("Type") == "AutoResponder":
            return None  # an out-of-office the relay saw: not a failure
        return Found(False, recipient, data.get("Type") not in soft, "Postmark bounce webhook")
    return None


def _sendgrid(data: dict[str, Any]) -> Found | None:
    kind = data["event"]
    recipient = _addresses([data["email"]])
    if kind == "spamreport":
        return Found(True, recipient, None, "SendGrid spam report event")
    if kind in ("bounce", "dropped", "blocked"):
        status = str(data.get("status", ""))
        found = permanence(status) if status else None
        return Found(False, recipient, True if found is None else found, "SendGrid bounce event")
    if kind == "deferred":
        return Found(False, recipient, False, "SendGrid deferred event")
    return None


def _each(items: Any, key: str) -> list[Any]:
    return [i.get(key) for i in items[:100] if isinstance(i, dict)] if isinstance(items, list) else []


def _addresses(values: Any) -> tuple[str, ...]:
    found = set()
    for value in values:
        if isinstance(value, str):
            match = _ADDRESS.search(value)
            if match:
                found.add(match.group(0).lower())
    return tuple(sorted(found))


def _bracketed(value: Any) -> str | None:
    if not isinstance(value, str) or "@" not in value:
        return None
    value = value.strip()
    return value if value.startswith("<") else f"<{value}>"


# -- plain-text notices --------------------------------------------------------------------------------

# Each software's opening, matched in the first lines of the body's first text part (whitespace
# collapsed, lower-case). Written for the sentence each one starts its notice with, not for words a
# person might use.
_OPENINGS = (
    ("qmail", r"hi\. this is the qmail-send program"),
    ("qmail", r"hi\. this is the qmail"),
    ("exim", r"this message was created automatically by mail delivery software"),
    ("postfix", r"this is the mail system at host"),
    ("sendmail", r"the original message was received at .{0,80} from"),
    ("domino", r"your message .{0,200}? was not delivered to"),
    ("groupwise", r"the message that you sent was undeliverable to the following"),
    ("groupwise", r"the message that you sent could not be delivered to the following"),
    ("mailman", r"your message .{0,120}? could not be delivered to (?:the following|one or more)"),
    ("majordomo", r"(?:\*+ )?delivery to the following recipients? failed"),
    ("carrier", r"this message could not be delivered to the following recipients?"),
    ("carrier", r"message delivery (?:to the following recipients? )?(?:has )?failed"),
    ("carrier", r"your message (?:could not|cannot) be delivered to the following"),
    ("carrier", r"(?:sorry, )?we were unable to deliver your message to the following"),
    ("japanese carrier", r"送信したメールは.{0,40}?(?:届きませんでした|配信できませんでした|送信できませんでした)"),
    ("japanese carrier", r"(?:以下|下記)の(?:宛先|アドレス|メールアドレス).{0,20}?(?:配信|送信|お届け)(?:が)?(?:できませんでした|に失敗しました)"),
    ("japanese carrier", r"(?:メール|メッセージ)(?:は|を).{0,20}?(?:配信|送信|お届け)(?:することが)?できませんでした"),
)
_OPENING = re.compile("|".join(f"(?P<f{i}>{pattern})" for i, (_, pattern) in enumerate(_OPENINGS)))
_HEAD_CHARS = 600  # the opening must start within this much of the body's first text
# Where a notice's copy of the original message (or its headers) starts: addresses after it are not the failure's.
_COPY_START = re.compile(
    r"^\s*(?:-{2,}\s*(?:below this line is a copy|this is a copy of the message|original message|returned message"
    r"|the original message)|-{3,}.*(?:original|copy|returned).*-{3,}|original message follows|------ the header"
    r"|(?:received|return-path|message-id|date|subject|from):\s|以下.{0,10}(?:元|オリジナル)の?メッセージ|-+\s*元のメッセージ)",
    re.IGNORECASE)
_ADDRESS = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)
_SUCCESS = re.compile(r"(?:was|were) successfully delivered|successful mail delivery")
_NOT_RECIPIENTS = ("mailer-daemon@", "postmaster@", "mail-daemon@", "root@")


def text_notice(message: Message, own_addresses: Collection[str]) -> Found | None:
    """A plain-text notice recognised by its opening, with the addresses it names before the copy of
    the original message; None when the body does not open like one."""
    text = _first_plain(message)
    head = " ".join(text[:_HEAD_CHARS * 2].split()).lower()
    found = _OPENING.search(head, 0, _HEAD_CHARS + 200)
    if found is None or found.start() > _HEAD_CHARS:
        return None
    software = _OPENINGS[int(next(k for k, v in found.groupdict().items() if v is not None)[1:])][0]
    if _SUCCESS.search(head):  # Postfix and Sendmail open their success reports the same way
        return None
    notice = _before_copy(text)
    # The failing addresses follow the opening: "Your message to jobs@lists.example could not be
    # delivered to …" names the list before the recipient.
    collapsed = " ".join(notice.split()).lower()
    opening = _OPENING.search(collapsed)
    own = {o.strip().lower() for o in own_addresses}
    named = {a.rstrip(".") for a in _ADDRESS.findall(collapsed[opening.end() if opening else 0:])} - own
    recipients = tuple(sorted(a for a in named if not a.startswith(_NOT_RECIPIENTS)))
    return Found(False, recipients, permanence(notice), f"{software} notice")


def _first_plain(message: Message) -> str:
    for part in parts(message):
        if part.is_multipart() or content_type(part) != "text/plain":
            continue
        if field(part, "content-disposition").lower().startswith("attachment"):
            continue
        return decoded(part)[:20_000]
    return ""


def _before_copy(text: str) -> str:
    lines = []
    for number, line in enumerate(text.splitlines()):
        if number > 3 and _COPY_START.match(line):
            break
        lines.append(line)
    return "\n".join(lines)


# -- permanence ---------------------------------------------------------------------------------------

_FULL_MAILBOX = re.compile(
    r"mailbox (?:is )?full|over quota|quota exceeded|exceeded (?:its|the|their) (?:storage )?quota|insufficient storage"
    r"|mailbox has exceeded|容量(?:オーバー|超過|を超え)|(?:メールボックス|受信(?:ボックス|フォルダ))が(?:いっぱい|一杯|満杯)",
    re.IGNORECASE)
# The sending server saying it gave up: permanent even for a full mailbox (Exim's "retry timeout exceeded").
_GAVE_UP = re.compile(
    r"permanent (?:error|failure|fatal error)|failed permanently|i've given up|i'm not going to try again"
    r"|retry timeout exceeded|giving up", re.IGNORECASE)
_PERMANENT = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient)|no mailbox here|does not exist|not listed in"
    r"|(?:user|address|recipient) not found|(?<![\d.])5\.\d{1,3}\.\d{1,3}(?![\d.])"
    r"|宛先不明|存在しません|見つかりません", re.IGNORECASE)
_TEMPORARY = re.compile(
    r"temporary (?:error|failure|problem)|has been delayed|will (?:be )?retr(?:y|ied)|still trying"
    r"|not yet been delivered|(?<![\d.])4\.\d{1,3}\.\d{1,3}(?![\d.])|一時的", re.IGNORECASE)


def permanence(text: str) -> bool | None:
    """Whether a failure the text describes is permanent (None: it does not say)."""
    if _GAVE_UP.search(text):
        return True
    if _FULL_MAILBOX.search(text):
        return False
    if _PERMANENT.search(text):
        return True
    if _TEMPORARY.search(text):
        return False
    return None
