"""The inventory report: six sections, each hashed, only the changed ones sent.

Sections: ``facts`` (:mod:`agent.facts`), ``software`` (:mod:`agent.software`),
``managed`` (the receipts, :mod:`agent.receipts`), ``hardware``
(:mod:`agent.hardware`), ``licenses`` (:mod:`agent.licensekeys`) and ``network``
(:mod:`agent.discovery`, told what it may scan by the controller's config). A
section's hash is the SHA-256 of its canonical JSON (``schemas.jobs.canonical_json``),
so the same content always hashes the same on every platform. The agent keeps
the hashes the controller *accepted*; a section goes out again when its hash
differs from the accepted one, or when a full report is due (first contact, the
controller asked for "full", or the periodic full report).

Sections are collected one by one and independently: a collector that raises
is logged and its section is simply left out (``None``: neither sent nor
re-hashed, so the controller keeps the last accepted version), while the others
still go. A collection may also ask for a subset (``only``), e.g. just
``network`` after the discovery settings changed. The CPU each section used is
recorded for the budget (:mod:`agent.throttling`) and the benchmark.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.discovery import collect_network
from agent.facts import collect_facts
from agent.hardware import collect_hardware
from agent.licensekeys import collect_license_keys
from agent.receipts import Receipts
from agent.settings import AgentSettings
from agent.software import collect_software
from agent.throttling import CpuMeter, Effort, thread_and_children_cpu
from schemas.inventory import DiscoverySettings, HardwareInventory, LicenseKeyItem, NetworkNeighbour
from schemas.jobs import canonical_json
from schemas.protocol import Facts, InventoryReport, InventorySection, ManagedItem, SoftwareDelta, SoftwareItem

log = logging.getLogger(__name__)

SECTIONS: tuple[InventorySection, ...] = ("facts", "software", "managed", "hardware", "licenses", "network")


def section_hash(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [item.model_dump(mode="json") for item in value]
    return value.model_dump(mode="json")


@dataclass(frozen=True)
class Inventory:
    """What one collection found; a section is None when it was not collected or its collector failed."""

    facts: Facts | None = None
    software: list[SoftwareItem] | None = None
    managed: list[ManagedItem] | None = None
    hardware: HardwareInventory | None = None
    licenses: list[LicenseKeyItem] | None = None
    network: list[NetworkNeighbour] | None = None
    failed: tuple[InventorySection, ...] = ()
    cpu_seconds: Mapping[InventorySection, float] = field(default_factory=dict)

    def collected(self) -> list[InventorySection]:
        return [name for name in SECTIONS if getattr(self, name) is not None]

    def section_data(self) -> dict[InventorySection, Any]:
        """Each collected section as plain JSON data: what is hashed and what is printed."""
        return {name: _dump(getattr(self, name)) for name in self.collected()}

    def hashes(self) -> dict[InventorySection, str]:
        return {name: section_hash(data) for name, data in self.section_data().items()}

    def report(self, accepted: Mapping[InventorySection, str], *, full: bool) -> InventoryReport | None:
        """What to send given the hashes the controller accepted; None when nothing changed."""
        hashes = self.hashes()
        changed = [name for name in hashes if full or accepted.get(name) != hashes[name]]
        if not changed:
            return None
        sections: dict[str, Any] = {name: getattr(self, name) for name in changed}
        return InventoryReport(full=full, hashes={name: hashes[name] for name in changed}, **sections)


def software_delta(accepted: list[SoftwareItem], current: list[SoftwareItem], base: str) -> SoftwareDelta | None:
    """``current`` as changes to ``accepted`` (whose hash is ``base``); None when the change is not
    smaller than the section itself (a reinstall), so the whole section is sent instead."""
    before = {item.model_dump_json(): item for item in accepted}
    after = {item.model_dump_json(): item for item in current}
    removed = [item for key, item in before.items() if key not in after]
    added = [item for key, item in after.items() if key not in before]
    if len(added) + len(removed) >= len(current):
        return None
    return SoftwareDelta(base=base, added=added, removed=removed)


def _real_software(effort: Effort) -> list[SoftwareItem]:
    return collect_software(effort)


@dataclass(frozen=True)
class Collectors:
    """Where each section comes from; the defaults read the real machine."""

    facts: Callable[[], Facts] = collect_facts
    software: Callable[[Effort], list[SoftwareItem]] = _real_software
    hardware: Callable[[], HardwareInventory] = collect_hardware
    licenses: Callable[[], list[LicenseKeyItem]] = collect_license_keys
    network: Callable[[DiscoverySettings], list[NetworkNeighbour]] = collect_network

    @classmethod
    def for_settings(cls, settings: AgentSettings) -> Collectors:
        """The real collectors, with the agent's switches applied (reverse DNS)."""
        return cls(network=functools.partial(collect_network, reverse_dns=settings.reverse_dns))


def collect_inventory(receipts: Receipts | None, collectors: Collectors | None = None, *,
                      discovery: DiscoverySettings | None = None, effort: Effort = "full",
                      only: Collection[InventorySection] | None = None,
                      meter: CpuMeter = thread_and_children_cpu) -> Inventory:
    """The machine's inventory now. Without receipts (not enrolled yet) ``managed`` is empty.

    ``only`` limits the sections collected; a collector that raises leaves its section out
    and is named in ``failed``. Never raises for a collector's sake.
    """
    collectors = collectors or Collectors()
    settings = discovery or DiscoverySettings()

    def managed() -> list[ManagedItem]:
        items = [receipt.managed_item() for receipt in receipts.all()] if receipts is not None else []
        return sorted(items, key=lambda item: item.package)

    work: dict[InventorySection, Callable[[], Any]] = {
        "facts": collectors.facts,
        "software": lambda: collectors.software(effort),
        "managed": managed,
        "hardware": collectors.hardware,
        "licenses": collectors.licenses,
        "network": lambda: collectors.network(settings),
    }
    found: dict[str, Any] = {}
    failed: list[InventorySection] = []
    cpu: dict[InventorySection, float] = {}
    for name in SECTIONS:
        if only is not None and name not in only:
            continue
        start = meter()
        try:
            found[name] = work[name]()
        except Exception as exc:  # one broken collector must not cost the other sections
            log.warning("the %s inventory collector failed (%s: %s); the other sections are still sent",
                        name, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            failed.append(name)
        finally:
            cpu[name] = max(0.0, meter() - start)
    return Inventory(**found, failed=tuple(failed), cpu_seconds=cpu)
