"""Reading what a person entered in a modal: `view.state.values`, one input per block."""
from __future__ import annotations

from typing import Any

SINGLE = ("selected_option", "selected_time", "selected_conversation", "value")


def value_of(values: dict[str, Any], block: str, action_id: str) -> Any:
    """The block's input as entered: typed text, the picked option's value, a time or a channel, the
    picked options' values for checkboxes; None when nothing was entered."""
    entry = values.get(block, {}).get(action_id, {})
    for key in SINGLE:
        if entry.get(key) is not None:
            found = entry[key]
            return found["value"] if isinstance(found, dict) else found
    return [o["value"] for o in entry.get("selected_options") or []] or None


def text_of(values: dict[str, Any], block: str, action_id: str) -> str:
    """A text input or single choice, as a string ("" when empty)."""
    return str(value_of(values, block, action_id) or "")
