"""A campaign file read as plain data, with the line of every value by its path: YAML 1.1's
surprises (base-60 times, octal day digits) kept as text, duplicate keys and alias loops reported,
the size limits of bot/yaml_limits.py enforced."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot import yaml_limits
from bot.campaign_import.problems import ImportProblems, Loc, Problem

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
BAD = object()  # stands for a value YAML could not read (already reported)


@dataclass
class Document:
    """Plain data read from YAML, with the line of every value by its path."""

    file: str
    data: Any = None
    lines: dict[Loc, int] = field(default_factory=dict)
    literal_base: dict[Loc, int] = field(default_factory=dict)  # `key: |` block: line of content line 0
    problems: list[Problem] = field(default_factory=list)
    bad_paths: set[Loc] = field(default_factory=set)

    def line(self, path: Loc) -> int | None:
        """The line of the value at `path`, or of its nearest ancestor that is in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def report(self, path: Loc, message: str, *, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, line or self.line(path), _show_path(path), message))

    def is_bad(self, path: Loc) -> bool:
        return any(path[: len(bad)] == bad for bad in self.bad_paths)


def _show_path(path: Loc) -> str:
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_yaml(text: str, file: str) -> Document:
    doc = Document(file)
    loader = yaml_limits.loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError:  # said again in PyYAML's words, which the problems below quote
            loader.dispose()
            loader = yaml_limits.LimitedLoader(text)
            root = loader.get_single_node()
        if root is None:
            doc.report((), "the file is empty: expected owner, mailbox, sequence, campaign and candidates "
                           "(see `outreach campaign import --help`)", line=1)
            return doc
        if "*" in text:  # no alias without a `*`: then every value is a node, counted while composing
            yaml_limits.check_expansion(root)  # before _node_data builds what the aliases stand for
        doc.lines[()] = root.start_mark.line + 1
        doc.data = _node_data(loader, root, (), doc, set())
    except yaml_limits.YamlTooLarge as exc:
        raise ImportProblems([Problem(file, None, "", str(exc))], file) from None
    except RecursionError:
        raise ImportProblems([Problem(file, None, "", "lists or mappings are nested too deeply: expected the "
                                                      "shape of a campaign file (see `outreach campaign import "
                                                      "--help`)")], file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "unreadable YAML"
        if exc.context and exc.problem_mark is not None:
            what += f" ({exc.context}"
            what += f" on line {exc.context_mark.line + 1})" if exc.context_mark is not None else ")"
        line = min(mark.line + 1, max(len(text.splitlines()), 1)) if mark else None  # not past the end
        doc.problems.append(Problem(file, line, "",
                                    f"YAML syntax error: {what}: expected valid YAML (check indentation, "
                                    "colons and quotes around text containing ': ' or '{')"))
    except yaml.YAMLError as exc:  # a ReaderError: characters YAML does not allow
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        doc.problems.append(Problem(file, line, "", f"not readable as YAML: {exc}"))
    finally:
        loader.dispose()
    if doc.problems and doc.data is None:
        doc.data = BAD
    return doc


def _node_data(loader: yaml.SafeLoader, node: yaml.Node, path: Loc, doc: Document, active: set[int]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.tag in (_INT_TAG, _FLOAT_TAG) and (
            ":" in node.value or re.fullmatch(r"[-+]?0[0-9_]+", node.value)
        ):
            return node.value  # YAML 1.1 base-60 ("9:30") or octal ("01234"): nobody means those here
        if node.style == "|":
            doc.literal_base[path] = node.start_mark.line + 1
        try:
            return loader.construct_object(node, deep=True)
        except ValueError:  # an impossible date such as 2026-13-01: the schema says what is expected
            return node.value
        except yaml.YAMLError as exc:
            doc.report(path, f"cannot read this value ({getattr(exc, 'problem', exc)}): expected plain "
                             "text, a number, true/false or a date", line=node.start_mark.line + 1)
            doc.bad_paths.add(path)
            return BAD
    if id(node) in active:
        doc.report(path, "this value contains itself (a YAML alias loop): expected plain data",
                   line=node.start_mark.line + 1)
        doc.bad_paths.add(path)
        return BAD
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, child in enumerate(node.value):
                doc.lines[path + (index,)] = child.start_mark.line + 1
                items.append(_node_data(loader, child, path + (index,), doc, active))
            return items
        assert isinstance(node, yaml.MappingNode)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = _key(loader, key_node)
            if key in seen:
                doc.report(path + (str(key),), f"'{key}' is given twice (first on line {seen[key]}): "
                                               "expected each key once", line=key_node.start_mark.line + 1)
                doc.bad_paths.add(path + (str(key),))
            else:
                seen[key] = key_node.start_mark.line + 1
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                doc.report(path, "a key here is a list or a mapping: expected plain words as keys",
                           line=key_node.start_mark.line + 1)
                doc.bad_paths.add(path)
                continue
            key = _key(loader, key_node)
            child_path = path + (key if isinstance(key, str) else str(key),)
            scalar = isinstance(value_node, yaml.ScalarNode)
            doc.lines[child_path] = (value_node if scalar else key_node).start_mark.line + 1
            mapping[key] = _node_data(loader, value_node, child_path, doc, active)
        return mapping
    finally:
        active.discard(id(node))


def _key(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        key = loader.construct_object(node)
    except (ValueError, yaml.YAMLError):
        return node.value
    return key if isinstance(key, (str, int, float, bool)) or key is None else node.value
