"""Email templates: Jinja2's sandbox with strict undefined, so a template can neither reach Python
internals nor silently send "Hi ," when a field is missing; and with limits (bot/template_limits.py),
so it can neither hang a worker nor exhaust its memory."""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bot import template_limits as limits
from bot.names import first_and_last
from bot.errors import UserError
from bot.template_limits import TemplateLimit

SAMPLE_NAME = "Alex Sample"


class TemplateProblem(UserError):
    pass


class _LimitedTemplate(Template):
    def render(self, *args: Any, **kwargs: Any) -> str:
        context = self.new_context(dict(*args, **kwargs))
        try:
            return limits.budgeted(lambda: self.root_render_func(context))
        except TemplateLimit:
            raise
        except Exception:  # noqa: BLE001 - Jinja's own handler: it rewrites the traceback to the template's lines
            self.environment.handle_exception()
            raise


class _LimitedEnvironment(ImmutableSandboxedEnvironment):
    """Immutable: a template cannot grow a list in a loop (`l.extend(l)`); the operators, calls and
    filters that can make a large value from a small one are checked before they run."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    template_class = _LimitedTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._written, **options)
        self.globals["range"] = limits.limited_range
        del self.globals["lipsum"]  # placeholder text, never an email's, and lipsum(100000) runs for seconds
        self.filters = {name: limits.limited_filter(name, func) for name, func in self.filters.items()}
        self.filters["limited_block"] = lambda value: limits.sized(value, "a {% set %} block")
        self.limited_loop = limits.limited_loop
        self.limited_concat = limits.limited_concat

    @staticmethod
    def _written(value: Any) -> Any:
        """Every `{{ … }}`, before it becomes text."""
        return limits.sized(value, "a `{{ … }}` value")

    def _generate(self, source: nodes.Template, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        return super()._generate(limits.Guard().visit(source), *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.tick()
        limits.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        limits.tick()
        if __obj is limits.limited_loop or __obj is limits.limited_concat:  # ours, checking themselves
            return __context.call(__obj, *args, **kwargs)
        limits.check_call(__obj, args, kwargs)
        return limits.sized(super().call(__context, __obj, *args, **kwargs), "the result of a call")


environment = _LimitedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


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
    """The template's text for these values. Every way it can fail is a TemplateProblem naming what to
    fix: the template is the person's own code, so whatever it raises is theirs to change, and one
    bad template must not stop the other emails of a batch."""
    try:
        return compiled(source).render(values)
    except TemplateLimit as exc:
        raise TemplateProblem(exc.message, field=field) from None
    except UndefinedError as exc:
        raise TemplateProblem(f"missing field: {exc.message}", field=field) from None
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"line {exc.lineno}: {exc.message}", field=field) from None
    except SecurityError:
        raise TemplateProblem("that template uses something templates may not use", field=field) from None
    except RecursionError:
        raise TemplateProblem("it calls itself too deeply (a macro that calls itself?)", field=field) from None
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateProblem(f"it fails when rendered: {exc}", field=field) from None


@lru_cache(maxsize=512)
def needs(source: str) -> frozenset[str]:
    """Every variable the template reads from its context, less the environment's globals (range, …):
    a candidate who has all of them cannot fail on a missing field."""
    return frozenset(meta.find_undeclared_variables(environment.parse(source)) - set(environment.globals))


def _undefined_name(error: UndefinedError) -> str | None:
    """StrictUndefined's message for a missing top-level variable is "'name' is undefined"."""
    message = error.message or ""
    if message.startswith("'") and message.endswith("' is undefined"):
        return message[1:-len("' is undefined")]
    return None


def missing_fields(source: str, values: Mapping[str, Any]) -> list[str]:
    """The one rule for "which fields does this template need that `values` lacks", in the order the
    template needs them. Fast path: a template whose variables (needs) are all in `values` lacks none.
    Otherwise it is rendered for real, so `{% if x is defined %}` guards are respected: each time a
    missing variable stops it, the field is noted, an empty value stands in for it, and it is rendered
    again. A failure that is not a missing field ends the search: an empty stand-in may fail where a
    real value would not, so it says nothing about the template (render() with the real values does)."""
    lacking = needs(source) - set(values)
    if not lacking:
        return []
    trial = dict(values)
    missing: list[str] = []
    for _ in range(len(lacking) + 1):
        try:
            compiled(source).render(trial)
            return missing
        except UndefinedError as error:
            name = _undefined_name(error)
            if name is None or name in trial:  # not a missing field (e.g. an attribute of a value)
                return missing
            missing.append(name)
            trial[name] = ""
        except Exception:  # noqa: BLE001 - not a missing field; see above
            return missing
    return missing


def check_limits(source: str, *, field: str) -> None:
    """Render once with a sample value for every field it reads, refusing what breaks a limit
    (bot/template_limits.py). Other failures are left to the real values: a sample is only a stand-in."""
    try:
        variables = meta.find_undeclared_variables(environment.parse(source)) - set(environment.globals)
        compiled(source).render(candidate_values(SAMPLE_NAME, {v: f"[{v}]" for v in variables}))
    except TemplateLimit as exc:
        raise TemplateProblem(exc.message, field=field) from None
    except RecursionError:
        raise TemplateProblem("it calls itself too deeply (a macro that calls itself?)", field=field) from None
    except Exception:  # noqa: BLE001, S110 - not a limit: a missing field or a sample a filter cannot read
        pass


def candidate_values(name: str, fields: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variables a template sees: name, first_name, last_name (bot.names), then the candidate's
    fields: a `first name` or `last name` column given with the candidate wins."""
    first, last = first_and_last(name)
    values: dict[str, Any] = {"name": name, "first_name": first, "last_name": last}
    values.update(fields)
    values.update(overrides or {})
    return values
