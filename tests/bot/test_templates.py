"""Render limits (bot/template_limits.py): a template that would hang a worker or exhaust its memory
ends in a TemplateProblem naming what to change, quickly; ordinary templates render as before.

The templates that hung or exhausted memory before the limits are rendered in a child process with
a memory cap and a deadline, so that without the limits the test fails rather than taking the
machine down."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import pytest

from bot import templates
from bot.templates import TemplateProblem

CHILD = """
import json, sys, time
from bot import templates
source, values = json.loads(sys.argv[1])
started = time.monotonic()
try:
    templates.render(source, values, field="body")
    print(json.dumps({"problem": None}))
except templates.TemplateProblem as problem:
    print(json.dumps({"problem": problem.message, "field": problem.field, "seconds": time.monotonic() - started}))
"""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GB: a 10 GB string fails at once


def _render_in_child(source: str, values: dict[str, object] | None = None) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps([source, values or {}])], capture_output=True,
                          text=True, timeout=20, preexec_fn=_cap_memory, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("source", "names"), [
    ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "range() asks for 99,999"),
    ("{{ 'x' * 10000000000 }}", "repetition"),
    ("{{ [0] * 10000000000 }}", "repetition"),
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
     "joined text"),
    ("{% set ns = namespace(s=[0]) %}{% for i in range(60) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ ns.s }}",
     "value"),
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}"
     "{% endfor %}{{ ns.s }}", "{% set %} block"),
    ("{{ 'x'|center(10000000000) }}", "|center"),
    ("{{ 'x'.ljust(10000000000) }}", ".ljust()"),
    ("{{ '%010000000000d' % 1 }}", "formatted text"),
    ("{{ ('x' * 50000)|replace('x', 'y' * 50000) }}", "|replace"),
    ("{{ 7 ** 100000000 }}", "number of over 10,000 bits"),
])
def test_a_template_that_would_hang_or_exhaust_memory_ends_at_once_naming_the_limit(source: str, names: str) -> None:
    result = _render_in_child(source)
    assert result["problem"] is not None and names in str(result["problem"])
    assert result["field"] == "body"
    assert float(result["seconds"]) < 2  # type: ignore[arg-type]


def test_loops_inside_loops_that_write_nothing_stop_at_the_time_limit() -> None:
    """1,000 × 1,000 × 1,000 turns of capped ranges write nothing: only the clock can stop them."""
    result = _render_in_child("{% set l = range(1000)|list %}{% for a in l %}{% for b in l %}{% for c in l %}"
                              "{% endfor %}{% endfor %}{% endfor %}")
    assert "longer than 0.5 s to render" in str(result["problem"])
    assert float(result["seconds"]) < 3  # type: ignore[arg-type]


def test_an_email_up_to_the_output_limit_renders_and_a_longer_one_is_refused() -> None:
    assert len(templates.render("{% for i in range(500) %}{{ line }}{% endfor %}", {"line": "y" * 200})) == 100_000
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="the email would be longer than 100,000 characters"):
        templates.render("{% for i in range(500) %}{{ line }}{% endfor %}!", {"line": "y" * 200}, field="body")
    assert time.monotonic() - started < 2
    values = templates.candidate_values("Ana Lima", {"company": "Acme", "skills": ["Go", "SQL", "Rust"],
                                                     "salary": "150000"})
    ordinary = ("Hi {{ first_name }},\n{% for s in skills %}{{ s }}{% if not loop.last %}, {% endif %}{% endfor %}"
                " at {{ company|upper }}: {{ '{:,}'.format(salary|int) }} {{ '%s/%s' % (1, 2) }} "
                "{{ ('-' * 3) ~ name }}{% set sig %}Rita{% endset %} {{ sig|lower }}")
    assert templates.render(ordinary, values) == "Hi Ana,\nGo, SQL, Rust at ACME: 150,000 1/2 ---Ana Lima rita"


def test_whatever_a_template_raises_is_a_template_problem_so_one_send_fails_not_its_batch() -> None:
    for source in ("{{ 1 / 0 }}", "{{ 'a' + 1 }}", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"):
        with pytest.raises(TemplateProblem):
            templates.render(source, {}, field="body")


def test_the_sample_render_refuses_only_what_breaks_a_limit() -> None:
    templates.check_limits("{{ 100 / (count|int) }} {{ company.name }}", field="body_1")  # samples fail: not limits
    with pytest.raises(TemplateProblem, match="range") as refused:
        templates.check_limits("{% for i in range(5000) %}{{ first_name }}{% endfor %}", field="body_2")
    assert refused.value.field == "body_2"
