"""The inventory report: three sections, each hashed, only the changed ones sent.

Sections: ``facts`` (:mod:`agent.facts`), ``software`` (:mod:`agent.software`)
and ``managed`` (the receipts, :mod:`agent.receipts`). A section's hash is the
SHA-256 of its canonical JSON (``schemas.jobs.canonical_json``), so the same
content always hashes the same on every platform. The agent keeps the hashes
the controller *accepted*; a section goes out again when its hash differs from
the accepted one, or when a full report is due (first contact, the controller
asked for "full", or the periodic full report).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.facts import collect_facts
from agent.receipts import Receipts
from agent.software import collect_software
from schemas.jobs import canonical_json
from schemas.protocol import Facts, InventoryReport, InventorySection, ManagedItem, SoftwareItem

SECTIONS: tuple[InventorySection, ...] = ("facts", "software", "managed")


def section_hash(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Inventory:
    facts: Facts
    software: list[SoftwareItem] = field(default_factory=list)
    managed: list[ManagedItem] = field(default_factory=list)

    def section_data(self) -> dict[InventorySection, Any]:
        """Each section as plain JSON data: what is hashed and what is printed."""
        return {
            "facts": self.facts.model_dump(mode="json"),
            "software": [item.model_dump(mode="json") for item in self.software],
            "managed": [item.model_dump(mode="json") for item in self.managed],
        }

    def hashes(self) -> dict[InventorySection, str]:
        return {name: section_hash(data) for name, data in self.section_data().items()}

    def report(self, accepted: Mapping[InventorySection, str], *, full: bool) -> InventoryReport | None:
        """What to send given the hashes the controller accepted; None when nothing changed."""
        hashes = self.hashes()
        changed = [name for name in SECTIONS if full or accepted.get(name) != hashes[name]]
        if not changed:
            return None
        return InventoryReport(
            full=full,
            facts=self.facts if "facts" in changed else None,
            software=self.software if "software" in changed else None,
            managed=self.managed if "managed" in changed else None,
            hashes={name: hashes[name] for name in changed},
        )


@dataclass(frozen=True)
class Collectors:
    """Where each section comes from; the defaults read the real machine."""

    facts: Callable[[], Facts] = collect_facts
    software: Callable[[], list[SoftwareItem]] = collect_software


def collect_inventory(receipts: Receipts | None, collectors: Collectors | None = None) -> Inventory:
    """The machine's inventory now. Without receipts (not enrolled yet) ``managed`` is empty."""
    collectors = collectors or Collectors()
    managed = [receipt.managed_item() for receipt in receipts.all()] if receipts is not None else []
    managed.sort(key=lambda item: item.package)
    return Inventory(facts=collectors.facts(), software=collectors.software(), managed=managed)
