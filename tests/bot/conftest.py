"""Fixtures of the tests of the bot's own modules."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot.pages import BotPages


@pytest.fixture(scope="module")
def pages() -> Iterator[BotPages]:
    served = BotPages()
    yield served
    served.server.shutdown()
