"""Every check made before anything is written: the file alone (templates, steps, campaign,
candidates), then against the database (owner, mailbox, limits, names). Each problem is reported on
its line; none stops the others.

Names (one live sequence and one live campaign per owner, whatever the case): a file's campaign is
always a new one, so a campaign name the owner already has is a problem. Its sequence is reused when
the owner has one of that name with exactly the file's steps (several campaigns from one sequence,
each imported from its own file); a same-named sequence with other steps is a problem, since reusing
it would send wording the file does not say."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import templates
from bot.campaign_import.problems import Loc
from bot.campaign_import.schema import (
    CampaignSpec,
    CandidateSpec,
    FileSpec,
    MailboxSpec,
    OwnerSpec,
    SequenceSpec,
    StepSpec,
    show,
    validate,
)
from bot.campaign_import.yaml_lines import BAD, Document, read_yaml
from bot.models import (
    AddressKind,
    Campaign,
    CandidateAddress,
    Mailbox,
    MailboxStatus,
    Provider,
    SendPreference,
    Sequence,
    User,
)
from bot.runtime import Runtime
from bot.services.delegations import may_use
from bot.services.directory import find_user
from bot.services.mailboxes import limit_range
from bot.services.recipients import choose_address


@dataclass
class Parsed:
    doc: Document
    owner: OwnerSpec | None = None
    mailbox: MailboxSpec | None = None
    sequence: SequenceSpec | None = None
    steps: list[StepSpec | None] = field(default_factory=list)
    campaign: CampaignSpec | None = None
    candidates: list[CandidateSpec | None] = field(default_factory=list)
    templates: list[tuple[str, str]] = field(default_factory=list)  # (where, source) of those that parse
    structure_ok: bool = False  # the top level parsed; sections may still be wrong

    @property
    def complete(self) -> bool:
        return (self.structure_ok and not self.doc.problems and None not in (self.owner, self.mailbox,
                self.sequence, self.campaign) and None not in self.steps and None not in self.candidates)


def parse(text: str, file: str) -> Parsed:
    doc = read_yaml(text, file)
    parsed = Parsed(doc)
    if doc.data is BAD or doc.data is None:
        return parsed
    if not isinstance(doc.data, dict):
        doc.report((), f"the file holds {show(doc.data)}: expected a mapping with owner, mailbox, sequence, "
                       "campaign and candidates (see `outreach campaign import --help`)")
        return parsed
    validate(doc, FileSpec, doc.data, ())  # unknown and missing sections; each is then checked alone
    sections: dict[Any, Any] = doc.data
    parsed.structure_ok = True
    parsed.owner = validate(doc, OwnerSpec, sections.get("owner", BAD), ("owner",))
    parsed.mailbox = validate(doc, MailboxSpec, sections.get("mailbox", BAD), ("mailbox",))
    parsed.sequence = validate(doc, SequenceSpec, sections.get("sequence", BAD), ("sequence",))
    raw_steps = sections["sequence"].get("steps") if isinstance(sections.get("sequence"), dict) else None
    if isinstance(raw_steps, list):
        parsed.steps = [validate(doc, StepSpec, step, ("sequence", "steps", n)) for n, step in enumerate(raw_steps)]
        _check_templates(parsed, raw_steps)
    parsed.campaign = validate(doc, CampaignSpec, sections.get("campaign"), ("campaign",))
    raw_candidates = sections.get("candidates")
    if isinstance(raw_candidates, list):
        parsed.candidates = [validate(doc, CandidateSpec, c, ("candidates", n)) for n, c in enumerate(raw_candidates)]
    _check_steps(parsed)
    _check_campaign(parsed)
    _check_candidates(parsed)
    return parsed


def _template_problem(doc: Document, path: Loc, exc: templates.TemplateProblem) -> None:
    match = re.match(r"line (\d+): (.*)", exc.message, re.S)
    if not match:
        doc.report(path, f"the template does not parse: {exc.message}")
        return
    number, what = int(match[1]), match[2].rstrip(". ")
    base = doc.literal_base.get(path)
    line = base + number if base is not None else None
    doc.report(path, f"the template does not parse: {what} (template line {number}): expected Jinja "
                     "syntax such as {{ first_name }} or {% if company %}…{% endif %}", line=line)


def _check_templates(parsed: Parsed, raw_steps: list[Any]) -> None:
    """Every subject and body must parse, checked even when another key of its step is wrong; a
    step whose template does not parse is left out of the candidates' checks."""
    for n, raw in enumerate(raw_steps):
        for part in ("subject", "body"):
            source = raw.get(part) if isinstance(raw, dict) else None
            if not isinstance(source, str):
                continue
            try:
                templates.check(source, field=part)
            except templates.TemplateProblem as exc:
                _template_problem(parsed.doc, ("sequence", "steps", n, part), exc)
                parsed.steps[n] = None
            else:
                parsed.templates.append((f"step {n + 1}'s {part}", source))


def _check_steps(parsed: Parsed) -> None:
    first = parsed.steps[0] if parsed.steps else None
    if first is not None and first.delay_days:
        parsed.doc.report(("sequence", "steps", 0, "delay_days"),
                          "step 1 goes out when the campaign starts: expected no delay_days on step 1 "
                          "(a step's delay counts days after the previous step)")


def _check_campaign(parsed: Parsed) -> None:
    campaign = parsed.campaign
    if campaign is None:
        return
    if campaign.preference == SendPreference.SPECIFIC and campaign.at is None:
        parsed.doc.report(("campaign", "preference"),
                          "'specific' needs a time of day: expected `at: \"HH:MM\"` next to it, such as \"09:30\"")
    if campaign.at is not None and campaign.preference != SendPreference.SPECIFIC:
        parsed.doc.report(("campaign", "at"), f"a time is used only with preference: specific (this campaign's "
                                              f"preference is {campaign.preference.value}): expected no `at`, "
                                              "or preference: specific")


def _missing_fields(step_templates: list[tuple[str, str]], values: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """Fields each template needs that `values` lacks ({field: [where]}), by the one rule Start uses
    too (templates.missing_fields); then, for a template that lacks none, how rendering it fails."""
    missing: dict[str, list[str]] = {}
    failures: list[str] = []
    for where, source in step_templates:
        lacking = templates.missing_fields(source, values)
        for name in lacking:
            missing.setdefault(name, []).append(where)
        if lacking:
            continue  # an empty stand-in may fail where the real value would not: nothing to say yet
        try:
            templates.render(source, values)
        except templates.TemplateProblem as exc:
            failures.append(f"{where}: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a template may divide by zero, call a non-function…
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
    return missing, failures


def _check_candidates(parsed: Parsed) -> None:
    doc, campaign = parsed.doc, parsed.campaign
    step_templates = parsed.templates
    first_owner: dict[str, tuple[int, str]] = {}
    for n, candidate in enumerate(parsed.candidates):
        if candidate is None:
            continue
        path: Loc = ("candidates", n)
        if sum(a.use_first for a in candidate.addresses) > 1:
            doc.report(path + ("addresses",), f"{candidate.name} has more than one address with use_first: "
                                              "expected use_first on one address at most")
        for m, address in enumerate(candidate.addresses):
            earlier = first_owner.get(address.address)
            if earlier is None:
                first_owner[address.address] = (n, candidate.name)
            elif earlier[0] == n:
                doc.report(path + ("addresses", m), f"{address.address} is listed twice for {candidate.name}: "
                                                    "expected each address once")
            else:
                doc.report(path + ("addresses", m),
                           f"{address.address} is already an address of candidates[{earlier[0] + 1}] "
                           f"({earlier[1]}, line {doc.line(('candidates', earlier[0]))}): expected each person "
                           "once (duplicates are not merged: keep one entry)")
        if campaign is not None and campaign.strict and choose_address(  # not strict: any address will do
            [CandidateAddress(address=a.address, kind=a.type, position=p, use_first=a.use_first)
             for p, a in enumerate(candidate.addresses, start=1)],
            preferred=AddressKind(campaign.email_preference), strict=True, user_id=0,
        ) is None:
            doc.report(path + ("addresses",),
                       f"{candidate.name} has no {campaign.email_preference} address and the campaign is "
                       f"strict (strict: true), so nothing could be sent: expected a {campaign.email_preference} "
                       "address, a use_first address, or strict: false")
        missing, failures = _missing_fields(step_templates, templates.candidate_values(candidate.name,
                                                                                       candidate.fields))
        where_fields: Loc = path + ("fields",) if path + ("fields",) in doc.lines else path
        for name, uses in missing.items():
            doc.report(where_fields + (name,),
                       f"{candidate.name} has no field '{name}', which {' and '.join(uses)} "
                       f"use{'s' if len(uses) == 1 else ''}: expected `{name}: …` under this candidate's fields")
        for failure in failures:
            doc.report(path, f"the email for {candidate.name} cannot be written: {failure}: "
                             "expected templates that work with this candidate's fields")


@dataclass
class Target:
    owner: User | None
    mailbox: Mailbox | None
    connect_sandbox: bool
    sequence: Sequence | None = None  # the owner's own, reused: same name, same steps


def _live_named(session: Session, kind: type[Sequence] | type[Campaign], owner: User, name: str):  # type: ignore[no-untyped-def]
    return session.scalar(select(kind).where(kind.owner_id == owner.id, kind.archived_at.is_(None),
                                             func.lower(kind.name) == func.lower(name.strip())).limit(1))


def _same_steps(sequence: Sequence, steps: list[StepSpec | None]) -> bool:
    theirs = [(s.subject, s.body, s.delay_days if s.position > 1 else 0)
              for s in sorted(sequence.steps, key=lambda s: s.position)]
    ours = [(s.subject, s.body, s.delay_days if n > 1 else 0) for n, s in enumerate(steps, 1) if s is not None]
    return theirs == ours


def _check_names(session: Session, parsed: Parsed, target: Target) -> None:
    """A taken campaign name, or a taken sequence name with other steps, on its line (see the top)."""
    doc, owner, spec, settings = parsed.doc, target.owner, parsed.sequence, parsed.campaign
    if owner is None or spec is None or settings is None or None in parsed.steps:
        return
    existing = _live_named(session, Sequence, owner, spec.name)
    if existing is not None and _same_steps(existing, parsed.steps):
        target.sequence = existing
    elif existing is not None:
        doc.report(("sequence", "name"), f"{owner.name or owner.slack_user_id} already has a sequence called "
                                         f"'{existing.name}' with other steps: expected another name, or "
                                         "exactly its steps to reuse it")
    name = settings.name or spec.name
    taken = _live_named(session, Campaign, owner, name)
    if taken is not None:
        at: Loc = ("campaign", "name") if settings.name else ("sequence", "name")  # named after its sequence
        doc.report(at, f"{owner.name or owner.slack_user_id} already has a campaign called '{taken.name}': "
                       "expected another name for this one (`name:` under campaign)")


def check_database(session: Session, runtime: Runtime, parsed: Parsed, start: bool) -> Target:
    doc, target = parsed.doc, Target(None, None, False)
    if parsed.owner is not None:
        target.owner = find_user(session, slack_team_id=parsed.owner.team, slack_user_id=parsed.owner.user)
    _check_names(session, parsed, target)
    spec = parsed.mailbox
    if spec is None:
        return target
    at: Loc = ("mailbox", "address") if ("mailbox", "address") in doc.lines else ("mailbox",)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.address == spec.address))
    provider = spec.provider or (mailbox.provider if mailbox is not None else None)
    if mailbox is None or mailbox.status == MailboxStatus.DISCONNECTED:
        state = "is not connected" if mailbox is None else "was disconnected"
        if spec.provider != Provider.SANDBOX:
            doc.report(at, f"{spec.address} {state}: expected a mailbox its owner has connected in Slack "
                           "(/outreach connect); a file can create only sandbox mailboxes (provider: sandbox)")
        elif not runtime.settings.sandbox_mailboxes:
            doc.report(("mailbox", "provider"), f"{spec.address} {state} and sandbox mailboxes are off here: "
                                                "expected OUTREACH_SANDBOX_MAILBOXES=true, or a mailbox "
                                                "connected in Slack (/outreach connect)")
        else:
            target.connect_sandbox = True
    else:
        target.mailbox = mailbox
        if parsed.owner is not None and (target.owner is None or not may_use(
                session, user_id=target.owner.id, mailbox=mailbox)):
            who = mailbox.owner.name or mailbox.owner.slack_user_id
            doc.report(at, f"{spec.address} is connected by {who}, not by this campaign's owner: expected a "
                           "mailbox the owner connected, or one its owner approved for them "
                           "(`/outreach delegate @owner` in Slack)")
        if spec.provider is not None and spec.provider != mailbox.provider:
            doc.report(("mailbox", "provider"), f"{spec.address} is a {mailbox.provider.value} mailbox: "
                                                f"expected provider: {mailbox.provider.value}, or no provider")
        if mailbox.status == MailboxStatus.NEEDS_RECONNECT and start:
            doc.report(at, f"{spec.address} needs reconnecting, so the campaign cannot start: expected its owner "
                           "to reconnect it in Slack first, or an import without --start")
    if provider is not None:  # set_limits' rules (limit_range), checked before anything is written
        allowed = limit_range(provider, spec.address)
        if spec.daily_cap is not None and spec.daily_cap > allowed.max_daily_cap:
            doc.report(("mailbox", "daily_cap"), f"{spec.daily_cap} is over the {provider.value} limit for "
                                                 f"{spec.address}: expected at most {allowed.max_daily_cap} a day")
        if spec.min_spacing_seconds is not None and spec.min_spacing_seconds < allowed.min_spacing_seconds:
            doc.report(("mailbox", "min_spacing_seconds"), f"{spec.min_spacing_seconds} is faster than "
                                                           f"{provider.value} allows: expected "
                                                           f"{allowed.min_spacing_seconds} or more")
    return target
