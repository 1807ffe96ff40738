"""No SQL in handlers: the Slack surface parses, calls a service (bot/services) and answers. A query
or a write statement in handlers/ belongs in a service, where it is tested without Slack.

Allowed: `session.get(Model, id)`, loading one row by its primary key (the handlers load the acting
user, a user to DM and a campaign to redraw that way); sessions and transactions themselves."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

HANDLERS = Path(__file__).parents[2] / "handlers"
SOURCES = sorted(HANDLERS.rglob("*.py"))
# SQLAlchemy's statement builders called bare (select(...); not slack.update(...), _template_select(...)
# nor a method defined as `def update(`),
# and a session running a statement (session.execute, session.scalar, session.scalars)
SQL = re.compile(r"(?<![\w.])(?<!def )(?:select|update|delete|insert)\(|\bsession\.(?:execute|scalars?)\b")


def sql_in(text: str) -> list[str]:
    return [f"{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), start=1)
            if SQL.search(line)]


def test_the_check_sees_sql_and_only_sql() -> None:
    assert sql_in("rows = session.scalars(select(Campaign))") != []
    assert sql_in("session.execute(update(Campaign).values(x=1))") != []
    assert sql_in("one = session.scalar(stmt)") != []
    assert sql_in("delete(Campaign)") != [] and sql_in("insert(Campaign)") != []
    assert sql_in("slack.update(channel, ts, text)\nslack.delete(channel, ts)\n_template_select(form)") == []
    assert sql_in("    def update(self, channel: str) -> None:") == []
    assert sql_in("user = session.get(User, user_id)") == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(HANDLERS)))
def test_no_sql_in_handlers(path: Path) -> None:
    assert sql_in(path.read_text()) == [], f"SQL in {path.relative_to(HANDLERS.parent)}: move it to bot/services"
