"""Limits on what one template render may cost, so a template can neither hang a worker nor exhaust
its memory (a nested `range(99999)` loop hung the dispatcher; `'x' * 10000000000` ran it out of memory).

| limit | value | why this value |
|---|---|---|
| `range()` | 1,000 numbers | a recruiting email loops over a handful of items; nested loops multiply |
| a value the template makes (text, list, `*`, `+`, `%`, `~`, filters, methods) | 100,000 characters | 30 times a long email; checked *before* the operation where it can be known |
| a number it makes | 10,000 bits (about 3,000 digits) | Python refuses to print an int of over 4,300 digits anyway |
| the rendered text | 100,000 characters | a 100 KB body is far above any real email yet far below every provider's message limit (Gmail 25 MB) |
| time for one render | 0.5 s | a real render takes well under a millisecond; a worker renders its batch one after another |

The clock is read on every loop iteration, call, filter and intercepted operator, so loops that write
nothing (1,000 × 1,000 × 1,000) still stop at the time limit. Every breach raises TemplateLimit, which
names what to change. What is outside this list (a single C-level operation on values already
within the limits) costs at most a few times the size limit.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.visitor import NodeTransformer
from jinja2.utils import _PassArg

from bot.errors import UserError

RANGE_LIMIT = 1_000
SIZE_LIMIT = 100_000
INT_BITS = 10_000
TIME_LIMIT = 0.5  # seconds of wall clock (CPU protection, not scheduling: no injected clock needed)

_CONTAINERS = (list, tuple, set, frozenset, dict)
_DIGITS = re.compile(r"\d+")


class TemplateLimit(UserError):
    """A template asked for more than a render may cost; the message says what to change."""


def too_big(what: str) -> TemplateLimit:
    return TemplateLimit(f"{what} would be longer than {SIZE_LIMIT:,} characters: make it shorter "
                         "(fewer repetitions or loop turns)")


class _Budget:
    __slots__ = ("deadline",)

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def tick() -> None:
    """Stop the render once its time is up (no budget outside a render: compiling, constant folding)."""
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise TemplateLimit(f"it takes longer than {TIME_LIMIT} s to render (loops inside loops?): "
                            "loop over fewer items")


def budgeted(chunks: Callable[[], Iterable[str]]) -> str:
    """Joins a render's output under a fresh time budget, refusing output over the size limit."""
    token = _budget.set(_Budget(TIME_LIMIT))
    try:
        out: list[str] = []
        size = 0
        for chunk in chunks():
            size += len(chunk)
            if size > SIZE_LIMIT:
                raise TemplateLimit(f"the email would be longer than {SIZE_LIMIT:,} characters: "
                                    "shorten the template or its loops")
            tick()
            out.append(chunk)
        return "".join(out)
    finally:
        _budget.reset(token)


def weight(value: Any, limit: int = SIZE_LIMIT) -> int:
    """About how many characters `str(value)` would make, counted without making it (a list that
    holds itself twice, nested 60 deep, is tiny in memory and exabytes as text); stops past `limit`."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        return 1
    seen: dict[int, int] = {}

    def walk(item: Any) -> int:
        if isinstance(item, (str, bytes)):
            return len(item)
        if not isinstance(item, _CONTAINERS):
            return 1
        known = seen.get(id(item))
        if known is not None:
            return known
        total = 2 + len(item)
        for child in (*item.keys(), *item.values()) if isinstance(item, dict) else item:
            total += walk(child)
            if total > limit:
                break
        seen[id(item)] = total
        return total

    return walk(value)


def sized(value: Any, what: str = "a value in the template") -> Any:
    if weight(value) > SIZE_LIMIT:
        raise too_big(what)
    return value


def _format_size(pattern: str, values: Iterable[Any]) -> int:
    """An upper bound of `pattern % values` or `pattern.format(*values)`: every field may hold the
    largest value, padded to the largest width written in the pattern."""
    digits = _DIGITS.findall(pattern)
    if any(len(d) > 6 for d in digits):  # a width of a million or more
        return SIZE_LIMIT + 1
    widest = max((int(d) for d in digits), default=0)
    largest = max((weight(v) for v in values), default=0)
    fields = pattern.count("%") + pattern.count("{")
    return len(pattern) + fields * (largest + widest)


def _replace_size(text: str, old: Any, new: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    hits = text.count(old) if old else len(text) + 1
    return len(text) + hits * len(new)


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else default


def _values(arg: Any) -> list[Any]:
    if isinstance(arg, tuple):
        return list(arg)
    if isinstance(arg, Mapping):
        return list(arg.values())
    return [arg]


# -- operators --------------------------------------------------------------------------------

def check_binop(operator: str, left: Any, right: Any) -> None:
    """Before `*`, `**`, `+` and `%` run: the size of what they would make."""
    if operator == "*":
        count, seq = (left, right) if isinstance(left, int) else (right, left)
        if isinstance(count, int) and not isinstance(seq, (int, float)):
            if count > 0 and weight(seq) * count > SIZE_LIMIT:
                raise too_big("a repetition (`*`)")
        elif isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > INT_BITS:
                raise _too_large_number()
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if left.bit_length() * right > INT_BITS:
                raise _too_large_number()
    elif operator == "+":
        if not isinstance(left, (int, float)) and weight(left) + weight(right) > SIZE_LIMIT:
            raise too_big("a joined value (`+`)")
    elif operator == "%" and isinstance(left, str):
        if _format_size(left, _values(right)) > SIZE_LIMIT:
            raise too_big("a formatted text (`%`)")


def _too_large_number() -> TemplateLimit:
    return TemplateLimit(f"it computes a number of over {INT_BITS:,} bits: use smaller numbers")


# -- calls (methods, macros, globals) -------------------------------------------------------

_STR_WIDTH = frozenset({"ljust", "rjust", "center", "zfill"})


def check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Before a call: string methods that can make a long text from a short one, and every argument."""
    owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)  # the sandbox wraps str.format
    if isinstance(owner, str):
        name = getattr(obj, "__name__", "")
        estimate = len(owner)
        if name in _STR_WIDTH and args:
            estimate = max(estimate, _int(args[0]))
        elif name == "expandtabs":
            estimate += owner.count("\t") * _int(args[0] if args else kwargs.get("tabsize", 8))
        elif name == "replace" and len(args) >= 2:
            estimate = _replace_size(owner, args[0], args[1])
        elif name == "join" and args:
            estimate = weight(args[0]) + len(owner) * _len(args[0])
        elif name in ("format", "format_map"):
            estimate = _format_size(owner, [*args, *kwargs.values()])
        if estimate > SIZE_LIMIT:
            raise too_big(f"the result of .{name}()")
    for value in (*args, *kwargs.values()):
        sized(value, "an argument")


def _len(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


# -- filters ----------------------------------------------------------------------------------

def _filter_estimate(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """How long a filter's result may be, for the filters that can make much more than they get."""
    def arg(position: int, key: str, default: Any) -> Any:
        return args[position] if len(args) > position else kwargs.get(key, default)

    text = value if isinstance(value, str) else ""
    base = weight(value)
    if name == "center":
        return max(base, _int(arg(0, "width", 80)))
    if name == "indent":
        width = arg(0, "width", 4)
        return base + (text.count("\n") + 1) * (len(width) if isinstance(width, str) else _int(width))
    if name == "wordwrap":
        wrap = arg(2, "wrapstring", None) or "\n"
        return base + (base // max(_int(arg(0, "width", 79), 1), 1) + 1) * len(str(wrap))
    if name == "replace":
        return _replace_size(text, arg(0, "old", None), arg(1, "new", None))
    if name == "join":
        return base + _len(value) * len(str(arg(0, "d", "")))
    if name in ("batch", "slice"):
        return base + _int(arg(0, "linecount" if name == "batch" else "slices", 1))
    if name == "format":
        return _format_size(text, [*args, *kwargs.values()])
    if name == "tojson":
        return base * (1 + _int(arg(0, "indent", 0)))
    return base


def limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 0 if _PassArg.from_obj(func) is None else 1  # context, eval context or environment comes first

    @wraps(func)  # keeps the pass_context marks Jinja reads
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tick()
        value, rest = args[skip], args[skip + 1:]
        if _filter_estimate(name, value, rest, kwargs) > SIZE_LIMIT:
            raise too_big(f"the result of |{name}")
        return sized(func(*args, **kwargs), f"the result of |{name}")

    return wrapper


# -- loops, captured blocks and `~`, by rewriting the parsed template -------------------------

def limited_range(*args: int) -> range:
    tick()
    numbers = range(*args)
    if len(numbers) > RANGE_LIMIT:
        raise TemplateLimit(f"range() asks for {len(numbers):,} numbers, and {RANGE_LIMIT:,} is the most: "
                            "loop over fewer")
    return numbers


def limited_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        tick()
        yield item


def limited_concat(*parts: Any) -> str:
    tick()
    if sum(weight(part) for part in parts) > SIZE_LIMIT:
        raise too_big("a joined text (`~`)")
    return "".join(map(str, parts))


def _environment_call(name: str, args: list[nodes.Expr]) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name), args, [], None, None)


class Guard(NodeTransformer):
    """Every `{% for %}` iterates through limited_loop (the clock is read each turn), every `~`
    goes through limited_concat, and a `{% set %}…{% endset %}` block's text is size-checked."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _environment_call("limited_loop", [node.iter])
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _environment_call("limited_concat", node.nodes)

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        node.filter = nodes.Filter(node.filter, "limited_block", [], [], None, None)
        return node
