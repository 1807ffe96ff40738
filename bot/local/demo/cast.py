"""The demo's people, places and files: who is in the local workspace, the campaign files it
imports, and the expectations it checks."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("America/New_York")
START = datetime(2026, 11, 23, 9, 40, tzinfo=ZONE)  # a Monday morning
RITA = "U0RITA"
OMAR = "U0OMAR"  # a hiring manager who lets Rita send from his mailbox
TESS = "U0TESS"  # a recruiter on Rita's team, who sees Rita's campaign only once Rita shares it
MANAGER_BOX = "omar@acme.example"
HIRING = "C0HIRING"  # the team channel that gets reply and bounce alerts

CAMPAIGN_FILE = """\
owner: {team: T0LOCAL, user: U0RITA}
mailbox: {address: rita@acme.example, daily_cap: 4}
sequence:
  name: Backend engineers
  steps:
    - subject: "{{ first_name }}, a backend role at {{ company }}"
      body: |
        Hi {{ first_name }},

        I lead hiring for {{ company }}'s platform team and your work on {{ project }}
        caught my eye. Open to a short call this week?

        Rita
    - {subject: Following up, delay_days: 2, body: "Hi {{ first_name }}, just bubbling this up. Rita"}
    - {subject: Last note, delay_days: 3, body: "Hi {{ first_name }}, I'll leave it here. Door's open. Rita"}
campaign: {name: "Backend engineers, Q4", preference: best, send_days: weekdays}
candidates:
  - {name: Ana Lima, fields: {company: Acme, project: a Postgres extension}, addresses: [work: ana@work.example, personal: ana@home.example]}
  - {name: Ben Okafor, fields: {company: Acme, project: a Rust HTTP server}, addresses: [work: ben@work.example]}
  - {name: Chen Wei, fields: {company: Acme, project: a Kafka connector}, addresses: [work: chen@work.example]}
  - {name: Dara Singh, fields: {company: Acme, project: a Go scheduler}, addresses: [work: dara@work.example]}
  - {name: Eli Cohen, fields: {company: Acme, project: an SQLite VFS}, addresses: [work: eli@work.example]}
  - {name: Fay Ito, fields: {company: Acme, project: a Python profiler}, addresses: [work: fay@work.example]}
"""


SMALL_CAMPAIGN = """\
owner: {{team: T0LOCAL, user: U0RITA}}
mailbox: {{address: rita@acme.example, daily_cap: 20}}
sequence:
  name: {name} outreach
  steps:
    - {{subject: "{{{{ first_name }}}}, a role on our {name} team", body: "Hi {{{{ first_name }}}}, open to a chat? Rita"}}
campaign: {{name: "{name} engineers", preference: started}}
candidates:
  - {{name: {person}, addresses: [work: {email}]}}
"""


@dataclass
class Expectations:
    out: TextIO
    failed: list[str] = field(default_factory=list)
    held: int = 0

    def check(self, name: str, condition: bool | Callable[[], bool]) -> None:
        """Record one expectation; a condition that raises (an earlier step went wrong) fails it."""
        try:
            held = condition() if callable(condition) else condition
        except (LookupError, AttributeError, TypeError, ValueError):
            held = False
        if held:
            self.held += 1
            self.out.write(f"  ✓ {name}\n")
        else:
            self.failed.append(name)
            self.out.write(f"  ✗ EXPECTED: {name}\n")
