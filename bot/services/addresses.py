"""What may enter as an email address, or as text that ends up in an email's headers.

One check for every way an address comes in (a CSV cell, an address added by hand, a YAML import,
a one-off send, the preview address from a Slack profile, a mailbox), so none of them can let through
`ana@x.example,boss@corp.example` (which providers read as two recipients), a quoted local part
holding an @, or a line break that would start a header of its own. The syntax is email-validator's
(RFC 5321/5322 as mail servers accept it), with no DNS lookup: entering an address must not wait on
the network, and a domain that does not resolve today is the recipient's problem, found as a bounce.

Addresses are kept lower-cased and in ASCII (an internationalised domain in its xn-- form): the wire
format (providers/base.py) writes headers without SMTPUTF8, so a non-ASCII local part cannot be sent
and is refused here rather than failing at send time.
"""
from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from bot.errors import UserError

MAX_ADDRESS = 320  # CandidateAddress.address
ONE_ADDRESS = "enter one address only"
_SEPARATORS = re.compile(r"[\s,;]+")
# C0 and C1 controls (CR, LF, NUL, tab …), DEL, and Unicode's line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")  # keeps tab, LF, CR
_NAMES = {"\n": "a line break", "\r": "a line break", "\t": "a tab", "\x00": "a NUL character",
          "\u2028": "a line separator", "\u2029": "a paragraph separator"}


def control_problem(text: str, *, multiline: bool = False) -> str | None:
    """The first control character in `text`, described ("a line break (U+000A)"); None when there is
    none. `multiline` lets tabs and line breaks through: a template field's value may be a paragraph
    for a body (a subject that renders one gets refused where it is rendered)."""
    found = (_CONTROL_BUT_LINES if multiline else _CONTROL).search(text)
    if found is None:
        return None
    char = found.group()
    return f"{_NAMES.get(char, 'a control character')} (U+{ord(char):04X})"


def check_line(text: str, *, what: str, field: str | None = None) -> str:
    """`text` if it holds no control character; else a UserError naming `what` ("the name"), on `field`."""
    problem = control_problem(text)
    if problem:
        raise UserError(f"{what[0].upper()}{what[1:]} contains {problem}: remove it, it must be one line of "
                        "plain text.", field=field)
    return text


def shown(text: str, limit: int = 80) -> str:
    """`text` fit to quote in a message: control characters escaped, at most `limit` characters."""
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


_OPTIONS = dict(check_deliverability=False, allow_smtputf8=False, allow_quoted_local=False, allow_domain_literal=False,
                allow_display_name=False, test_environment=True)
# RFC 5322's dot-atom in ASCII: a local part every mail system takes as it is. Such an address only
# needs its domain checked, and a CSV's addresses share a few domains: checking each domain once
# keeps reading 10,000 rows fast (email-validator costs ~30 µs a call, most of it the domain).
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str:
    return validate_email(f"x@{domain}", **_OPTIONS).ascii_domain  # type: ignore[arg-type]


def _validated(text: str) -> str:
    """The address lower-cased in ASCII (an internationalised domain in its xn-- form); EmailNotValidError
    when it is not one plain address."""
    local, at, domain = text.rpartition("@")
    if at and len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
        address = f"{local}@{_ascii_domain(domain)}".lower()
        if len(address) <= 254:  # RFC 5321's limit on a path
            return address
    return validate_email(text, **_OPTIONS).ascii_email.lower()  # type: ignore[arg-type,union-attr]


def check_address(text: str, *, several: str = ONE_ADDRESS) -> tuple[str | None, str | None]:
    """(the address as kept, None), or (None, what is wrong with it in words that say what to fix)."""
    quoted = shown(text)
    control = control_problem(text)
    if control:
        return None, f'"{quoted}" contains {control}: expected one address on one line, such as name@example.com'
    if len(text) > MAX_ADDRESS:
        return None, f'"{quoted}" is {len(text):,} characters long: an email address has at most {MAX_ADDRESS}'
    try:
        return _validated(text), None
    except EmailNotValidError as error:
        reason = str(error)
    parts = [p for p in _SEPARATORS.split(text) if p]
    if len(parts) > 1 and all(_is_address(p) for p in parts):
        return None, f'"{quoted}" holds more than one address: {several}'
    if text.startswith('"') or '"@' in text:
        return None, f'"{quoted}" has quotes before the @: expected a plain address such as name@example.com'
    if "@" not in text:
        return None, f'"{quoted}" is not an email address: expected name@example.com'
    return None, (f'"{quoted}" is not an email address ({reason[0].lower()}{reason[1:].rstrip(".")}): '
                  "expected name@example.com")


def _is_address(text: str) -> bool:
    try:
        _validated(text)
    except EmailNotValidError:
        return False
    return True


def address_problem(text: str, *, several: str = ONE_ADDRESS) -> str | None:
    """What is wrong with a typed email address, in words that say what to fix; None when it is one.
    `several` is the advice when the text holds more than one address."""
    return check_address(text, several=several)[1]


def valid_address(text: str, *, field: str | None = None, several: str = ONE_ADDRESS) -> str:
    """The address as kept (surrounding spaces dropped, lower-cased, ASCII); a UserError on `field`
    saying what to fix when it is not one plain address."""
    address, problem = check_address(text.strip(" "), several=several)
    if address is None:
        raise UserError(problem or "not an email address", field=field)
    return address
