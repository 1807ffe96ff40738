"""The campaign file read over libyaml (yaml_limits.FastLimitedLoader) gives exactly what PyYAML's
pure-Python reader gives: the same data, the same line of every value, the same problems in the
same words (a file libyaml refuses is read again by PyYAML for its wording)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import yaml_limits
from bot.campaign_import.schema import example
from bot.campaign_import.yaml_lines import BAD, Document, read_yaml

FIXTURES = Path(__file__).parent / "fixtures" / "import"

SOURCES = {
    "good": (FIXTURES / "good.yaml").read_text(),
    "many problems": (FIXTURES / "many_problems.yaml").read_text(),
    "the example": example().split(":\n", 1)[1],
    "YAML 1.1 times and digits": "campaign:\n  at: 9:30\n  send_days: 01234\n  n: 1_000\n  f: 1.5\n  t: yes\n",
    "anchors and merges": "base: &b {company: Acme, role: x}\nc:\n  <<: *b\n  role: y\nlist: [*b, *b]\n",
    "a duplicate key": "owner:\n  team: T1\n  team: T2\n",
    "an alias loop": "a: &a [*a]\n",
    "an undefined alias": "a: *nothing\n",
    "a duplicate anchor": "a: &x 1\nb: &x 2\n",
    "tags": "a: !!str 12\nb: !!int '7'\nc: ! plain\n",
    "literal and folded blocks": "body: |\n  Hi {{ first_name }},\n\n  more\nsub: >\n  one\n  two\n",
    "quoted and plain": "a: 'x: y'\nb: \"\\u00e9\\t\"\nc: plain text here\nd: null\ne: ~\nf: 2026-12-25\n",
    "a syntax error": "owner: {team: T1\nmailbox: x\n",
    "bad indentation": "owner:\n  team: T1\n bad: 2\n",
    "a tab": "owner:\n\tteam: T1\n",
    "an unclosed quote": "a: 'open\nb: 2\n",
    "an impossible date": "holidays: [2026-13-01]\n",
    "a complex key": "? [a, b]\n: c\n",
    "empty": "",
    "only a comment": "# nothing\n",
}


def _pure(text: str) -> yaml_limits.LimitedLoader:
    return yaml_limits.LimitedLoader(text)


def _shown(doc: Document) -> tuple[object, ...]:
    data = "BAD" if doc.data is BAD else repr(doc.data)
    return data, doc.lines, doc.literal_base, [str(p) for p in doc.problems], doc.bad_paths


@pytest.mark.skipif(getattr(yaml_limits, "CParser", None) is None, reason="this PyYAML has no libyaml")
@pytest.mark.parametrize("name", SOURCES)
def test_libyaml_reads_a_file_as_pyyaml_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = SOURCES[name]
    assert isinstance(yaml_limits.loader(text), yaml_limits.FastLimitedLoader)
    fast = _shown(read_yaml(text, "c.yaml"))
    monkeypatch.setattr(yaml_limits, "loader", _pure)
    assert fast == _shown(read_yaml(text, "c.yaml"))
