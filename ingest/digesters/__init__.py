"""How the digest worker stores each queued item type other than `event`.

A digester takes the batch's queued rows of its item types (in queue order) with the
batch's projects, stores what they carry through a `groups`/`projects` service, and returns
the outcomes to count, per project: {project_id: Counter({(category, outcome, reason): n})}.

It runs inside the batch's transaction: it must write nothing outside the database that a
rollback would leave behind unaccounted for, and it must be idempotent for an SDK's retry
of the same item (unique constraints, conflicts ignored). An item it cannot use is counted
as `invalid` with a reason, never raised, so that the rest of the batch is stored.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.models import QueuedItem
    from projects.models import Project

Outcomes = dict[int, Counter[tuple[str, str, str]]]
Digester = Callable[[list["QueuedItem"], Mapping[int, "Project"]], Outcomes]

DIGESTERS: dict[str, Digester] = {}


def digests(*item_types: str) -> Callable[[Digester], Digester]:
    """Register the decorated function as the digester of `item_types`."""

    def register(function: Digester) -> Digester:
        for item_type in item_types:
            DIGESTERS[item_type] = function
        return function

    return register


def stored_types() -> frozenset[str]:
    """Queued item types: events and every type with a digester."""
    return frozenset({"event", *DIGESTERS})


def _register_all() -> None:
    """Import every module of this package: each registers its digesters."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_all()
