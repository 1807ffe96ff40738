"""A sandbox store that counts what a sync reads (for the idle-poll tests and benchmark)."""
from __future__ import annotations

from pathlib import Path

from providers.sandbox import SandboxStore


class CountingStore(SandboxStore):
    """The sandbox store, counting what a sync reads: the counter, folder listings, message files."""

    reads = 0

    def counter(self, address: str) -> int:
        self.reads += 1
        return super().counter(address)

    def between(self, address: str, folder: str, after_uid: int, last_uid: int) -> list[tuple[int, Path]]:
        found = super().between(address, folder, after_uid, last_uid)
        self.reads += 1 + len(found)
        return found

    def list(self, address: str, folder: str, after_uid: int = 0) -> list[tuple[int, Path]]:
        found = super().list(address, folder, after_uid)
        self.reads += 1 + len(found)
        return found
