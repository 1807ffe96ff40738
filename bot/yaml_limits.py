"""Limits on a YAML file, checked before any Python object is built from it, so an alias bomb
("billion laughs") or a huge document ends at once with one clear line instead of a MemoryError
after a minute.

| limit | value | why |
|---|---|---|
| size | 2 MB | 10,000 candidates (the CSV import's row limit) take about 1.2 MB; PyYAML's pure-Python parser reads about 1 MB in 7 s on a shared core, libyaml's (FastLimitedLoader) in well under one |
| nodes while parsing | 300,000 | 10,000 candidates are about 160,000 (every key and value is one); each costs about 500 bytes of parser memory |
| values once aliases are expanded | 300,000 | an alias (`*name`) repeats a whole subtree: nine levels of ten aliases are a billion values |
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import AliasEvent, ScalarEvent, SequenceStartEvent

try:
    from yaml.cyaml import CParser  # libyaml, which PyYAML's wheels include
except ImportError:  # pragma: no cover - a PyYAML built without it
    CParser = None

MAX_BYTES = 2_000_000
MAX_NODES = 300_000
MAX_VALUES = 300_000


class YamlTooLarge(Exception):
    """What was too large, in words for the person who wrote the file."""


def size_problem(size: int) -> str | None:
    if size <= MAX_BYTES:
        return None
    return (f"the file is {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB a campaign file may be: "
            "import fewer candidates per file")


class LimitedLoader(yaml.SafeLoader):
    """SafeLoader that stops composing past MAX_NODES nodes (aliases counted as they are met)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlTooLarge(f"the file holds more than {MAX_NODES:,} values: import fewer candidates per file")
        return super().compose_node(parent, index)


if CParser is not None:
    class FastLimitedLoader(CParser, LimitedLoader):  # type: ignore[misc, valid-type]
        """LimitedLoader over libyaml's scanner and parser, several times faster: the events come from C,
        and the nodes are still composed here, so the node limit holds while composing. PyYAML's Reader
        still checks the characters first, as LimitedLoader does."""

        check_node, get_node, get_single_node = Composer.check_node, Composer.get_node, Composer.get_single_node

        def __init__(self, stream: str) -> None:
            LimitedLoader.__init__(self, stream)  # PyYAML's own reader refuses the characters it refuses
            CParser.__init__(self, stream)

        # PyYAML's Composer.compose_node and compose_scalar_node, leaner: the event's type is asked once,
        # and the path resolvers (SafeLoader registers none) are skipped; the node limit as LimitedLoader's.
        def compose_node(self, parent: Any, index: Any) -> Any:
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise YamlTooLarge(f"the file holds more than {MAX_NODES:,} values: import fewer candidates per "
                                   "file")
            event = self.peek_event()
            kind = type(event)
            if kind is AliasEvent:
                self.get_event()
                if event.anchor not in self.anchors:
                    raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
                return self.anchors[event.anchor]
            anchor = event.anchor
            if anchor is not None and anchor in self.anchors:
                raise ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                    self.anchors[anchor].start_mark, "second occurrence", event.start_mark)
            if kind is ScalarEvent:
                return self.compose_scalar_node(anchor)
            if kind is SequenceStartEvent:
                return self.compose_sequence_node(anchor)
            return self.compose_mapping_node(anchor)

        def compose_scalar_node(self, anchor: Any) -> Any:
            event = self.get_event()
            tag = event.tag
            if tag is None or tag == "!":
                tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
            # style: libyaml says '' for a plain scalar, PyYAML None, which the reader tests for
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style or None)
            if anchor is not None:
                self.anchors[anchor] = node
            return node


def loader(text: str) -> LimitedLoader:
    """The fastest LimitedLoader this PyYAML has for `text`."""
    return FastLimitedLoader(text) if CParser is not None else LimitedLoader(text)


def check_expansion(root: yaml.Node) -> None:
    """Count the values the composed tree stands for once every alias is expanded, without expanding
    it: each node's count is kept, so a node shared by many aliases is counted once per use but walked
    once. A node inside itself counts once here (the reader reports the loop)."""
    counts: dict[int, int] = {}

    def count(node: yaml.Node) -> int:
        known = counts.get(id(node))
        if known is not None:
            return known
        counts[id(node)] = 1  # while it is walked: a loop back to it counts one
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = []
        for child in children:
            total += count(child)
            if total > MAX_VALUES:
                raise YamlTooLarge(f"the file stands for more than {MAX_VALUES:,} values once its aliases (*name) "
                                   "are expanded: write the values out, or use fewer aliases")
        counts[id(node)] = total
        return total

    count(root)
