"""Email templates: Jinja2's sandbox with strict undefined, so a template can neither reach Python
internals nor silently send "Hi ," when a field is missing."""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from bot.errors import UserError

environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class TemplateProblem(UserError):
    pass


def check(source: str, *, field: str) -> None:
    """Refuse a template that does not parse, naming the line and what is wrong."""
    try:
        environment.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"line {exc.lineno}: {exc.message}", field=field) from None


@lru_cache(maxsize=512)
def compiled(source: str) -> Template:
    return environment.from_string(source)  # parsing is the slow part; a campaign reuses a few templates


def render(source: str, values: Mapping[str, Any], *, field: str = "template") -> str:
    try:
        return compiled(source).render(values)
    except UndefinedError as exc:
        raise TemplateProblem(f"missing field: {exc.message}", field=field) from None
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"line {exc.lineno}: {exc.message}", field=field) from None
    except SecurityError:
        raise TemplateProblem("that template uses something templates may not use", field=field) from None


def candidate_values(name: str, fields: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variables a template sees: name, first_name, last_name, then the candidate's fields."""
    first, _, last = name.strip().partition(" ")
    values: dict[str, Any] = {"name": name, "first_name": first, "last_name": last.strip()}
    values.update(fields)
    values.update(overrides or {})
    return values
