"""What changed between two inventory reports of one device: the rows of ``asset_history``.

Pure functions, no I/O: old and new in, a list of :class:`InventoryChange` out. The
ingestion calls them with what the store held and what the agent just sent, and
stores the result in the same transaction.

- **software** is keyed by (source, name, arch); one version on each side is an
  upgrade or a downgrade (ordered as :mod:`controller.store.versions` orders them),
  anything else is installs and removals of single versions (kernels, for one, are
  installed side by side).
- **hardware** is compared part by part with a stable identity for each part: memory
  modules by slot, disks by serial (else name), interfaces by MAC, displays and
  peripherals by their ids. A disk replaced in place shows as one removed and one
  added; a module resized in its slot as one changed. Volatile values (free space,
  logged-in users, last boot) are not history.

The first report of a section is the baseline, not a change: callers pass ``None`` as
the old side and get nothing back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.store.versions import compare_versions

MAX_CHANGES_PER_REPORT = 2_000
"""A report that changes more than this (a reimage) records a summary line for the rest."""


@dataclass(frozen=True)
class InventoryChange:
    section: str
    change: str
    """added, removed, changed, upgraded, downgraded."""
    item: str
    old: str | None
    new: str | None


SoftwareKey = tuple[str, str, str, str]
"""(source, name, arch, version): one installed version."""


def software_changes(old: Iterable[tuple[str, ...]] | None, new: Iterable[tuple[str, ...]]) -> list[InventoryChange]:
    """Changes between two software lists of (source, name, arch, version, ...): tuples whose
    first four fields say which version of which product; further fields (publisher, install
    date) are not history."""
    if old is None:
        return []
    before = old if isinstance(old, set) else set(old)
    after = new if isinstance(new, set) else set(new)
    gone_entries, came_entries = before - after, after - before
    if not gone_entries and not came_entries:
        return []
    gone: set[SoftwareKey] = {_key(entry) for entry in gone_entries}
    came: set[SoftwareKey] = {_key(entry) for entry in came_entries}
    gone, came = gone - came, came - gone
    if not gone and not came:
        return []
    # Only the products that changed are grouped and compared: a delta report costs two set
    # differences, whatever the number of packages.
    was = _versions_by_product(gone)
    now = _versions_by_product(came)
    products = was.keys() | now.keys()
    count_before = Counter(key[:3] for key in before if key[:3] in products)
    count_after = Counter(key[:3] for key in after if key[:3] in products)
    changes: list[InventoryChange] = []
    for product in sorted(products):
        removed, added = was.get(product, []), now.get(product, [])
        label = _software_label(product)
        if len(removed) == 1 and len(added) == 1 and count_before[product] == 1 and count_after[product] == 1:
            order = compare_versions(removed[0], added[0])
            kind = "upgraded" if order < 0 else "downgraded" if order > 0 else "changed"
            changes.append(InventoryChange("software", kind, label, removed[0], added[0]))
            continue
        changes += [InventoryChange("software", "removed", label, version, None) for version in removed]
        changes += [InventoryChange("software", "added", label, None, version) for version in added]
    return _capped(changes, "software")


Product = tuple[str, str, str]


def _key(entry: tuple[str, ...]) -> SoftwareKey:
    return entry[0], entry[1], entry[2], entry[3]


def _versions_by_product(keys: Iterable[SoftwareKey]) -> dict[Product, list[str]]:
    found: dict[Product, list[str]] = {}
    for source, name, arch, version in keys:
        found.setdefault((source, name, arch), []).append(version)
    return {product: sorted(versions) for product, versions in found.items()}


def _software_label(product: Product) -> str:
    source, name, arch = product
    return f"{name} ({arch}, {source})" if arch else f"{name} ({source})"


def hardware_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[InventoryChange]:
    """Changes between two hardware sections (``HardwareInventory`` as JSON data)."""
    if old is None:
        return []
    changes: list[InventoryChange] = []
    changes += _fields("system", old.get("system") or {}, new.get("system") or {},
                       ("manufacturer", "model", "serial", "uuid", "bios_version", "chassis"))
    changes += _fields("os", old.get("os") or {}, new.get("os") or {}, ("name", "version", "build", "kernel"))
    changes += _fields("memory", old.get("memory") or {}, new.get("memory") or {}, ("total_bytes",), _size)
    changes += _parts("cpu", old.get("cpus") or [], new.get("cpus") or [],
                      identity=lambda cpu: f"socket {cpu.get('_index', 0)}",
                      describe=lambda cpu: f"{cpu.get('model', '')} ({cpu.get('cores', 0)} cores)", indexed=True)
    changes += _parts("memory module", (old.get("memory") or {}).get("modules") or [],
                      (new.get("memory") or {}).get("modules") or [],
                      identity=lambda module: module.get("slot") or f"module {module.get('_index', 0)}",
                      describe=lambda module: " ".join(filter(None, (
                          _size(module.get("size_bytes")), module.get("type", ""), module.get("serial", "")))),
                      indexed=True)
    changes += _parts("disk", old.get("disks") or [], new.get("disks") or [],
                      identity=lambda disk: disk.get("serial") or disk.get("name", ""),
                      describe=lambda disk: " ".join(filter(None, (
                          disk.get("model", ""), _size(disk.get("size_bytes")), disk.get("name", "")))))
    changes += _parts("interface", old.get("interfaces") or [], new.get("interfaces") or [],
                      identity=lambda nic: nic.get("mac") or nic.get("name", ""),
                      describe=lambda nic: f"{nic.get('name', '')} {nic.get('mac', '')}".strip())
    changes += _parts("display", old.get("displays") or [], new.get("displays") or [],
                      identity=lambda display: "/".join((display.get("manufacturer", ""), display.get("model", ""),
                                                         display.get("serial", ""))),
                      describe=lambda display: " ".join(filter(None, (
                          display.get("manufacturer", ""), display.get("model", ""), display.get("serial", "")))))
    changes += _parts("peripheral", old.get("peripherals") or [], new.get("peripherals") or [],
                      identity=lambda device: "/".join((device.get("bus", ""), device.get("vendor_id", ""),
                                                        device.get("product_id", ""), device.get("serial", ""))),
                      describe=lambda device: " ".join(filter(None, (
                          device.get("vendor", ""), device.get("product", ""), device.get("serial", "")))) or
                      f"{device.get('vendor_id', '')}:{device.get('product_id', '')}")
    return _capped(changes, "hardware")


def _fields(part: str, old: Mapping[str, Any], new: Mapping[str, Any], names: Iterable[str],
            show: Callable[[Any], str] = str) -> list[InventoryChange]:
    changes = []
    for name in names:
        was, now = old.get(name), new.get(name)
        if was != now and (was or now):
            changes.append(InventoryChange("hardware", "changed", f"{part} {name}".replace("_", " "),
                                           show(was) if was not in (None, "") else None,
                                           show(now) if now not in (None, "") else None))
    return changes


def _parts(part: str, old: list[Mapping[str, Any]], new: list[Mapping[str, Any]], *,
           identity: Callable[[Mapping[str, Any]], str], describe: Callable[[Mapping[str, Any]], str],
           indexed: bool = False) -> list[InventoryChange]:
    """Added, removed and (for parts with a slot-like identity) changed parts of one kind."""
    def keyed(parts: list[Mapping[str, Any]]) -> dict[str, str]:
        found: dict[str, str] = {}
        for index, item in enumerate(parts):
            if not isinstance(item, Mapping):
                continue
            entry = {**item, "_index": index} if indexed else item
            found.setdefault(identity(entry), describe(entry))
        return found

    before, after = keyed(old), keyed(new)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        if was is not None and now is not None:
            changes.append(InventoryChange("hardware", "changed", f"{part} {key}", was, now))
        elif was is not None:
            changes.append(InventoryChange("hardware", "removed", part, was, None))
        else:
            changes.append(InventoryChange("hardware", "added", part, None, now))
    return changes


def _size(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return ""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{value} B"


def _capped(changes: list[InventoryChange], section: str) -> list[InventoryChange]:
    if len(changes) <= MAX_CHANGES_PER_REPORT:
        return changes
    kept = changes[:MAX_CHANGES_PER_REPORT - 1]
    rest = len(changes) - len(kept)
    kept.append(InventoryChange(section, "changed", f"{rest} more changes", None, f"{rest} not listed"))
    return kept
