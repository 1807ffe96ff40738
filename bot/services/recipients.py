"""Which address a step goes to (SPEC "Choosing the recipient address", seed 002)."""
from __future__ import annotations

from collections.abc import Collection, Iterable

from bot.models import AddressKind, CandidateAddress
from bot.services.access import visible_addresses


def choose_address(
    addresses: Iterable[CandidateAddress],
    *,
    preferred: AddressKind,
    strict: bool,
    user_id: int,
    exclude: Collection[str] = (),
) -> str | None:
    """Use-first wins; else the preferred type in relevancy order; else (unless strict) the
    others in relevancy order. `exclude` holds addresses that already bounced."""
    usable = [a for a in sorted(visible_addresses(addresses, user_id), key=lambda a: a.position)
              if a.address not in exclude]
    for address in usable:
        if address.use_first:
            return address.address
    for address in usable:
        if address.kind == preferred:
            return address.address
    if strict:
        return None
    return usable[0].address if usable else None
