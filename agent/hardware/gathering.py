"""Putting the parts of the hardware section together, so one broken part costs only itself.

Each OS collector names its parts (``system``, ``cpus``, ``disks``...) as zero-argument callables.
:func:`gather` runs them one by one: a part that raises is logged as a warning naming the part and
reported empty, the others go on. It also makes the section deterministic - every list sorted, every
list capped at the schema's length - because the section is hashed and re-sent whenever it changes,
and an ordering that differs between two runs would resend an unchanged machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from annotated_types import MaxLen
from pydantic import BaseModel, ValidationError

from schemas.inventory import (
    CpuInfo,
    Disk,
    Display,
    HardwareInventory,
    MemoryInfo,
    MemoryModule,
    NetworkInterface,
    Peripheral,
    UserSession,
    Volume,
)

log = logging.getLogger(__name__)

Part = Callable[[], Any]

# The field each list is ordered by first; the full JSON breaks ties, so the order never depends
# on the order the OS happened to list things in.
_PRIMARY: dict[type[BaseModel], Callable[[Any], str]] = {
    CpuInfo: lambda cpu: cpu.model,
    Disk: lambda disk: disk.name,
    Volume: lambda volume: volume.mount,
    NetworkInterface: lambda interface: interface.name,
    Display: lambda display: display.name,
    Peripheral: lambda peripheral: f"{peripheral.bus}:{peripheral.vendor_id}:{peripheral.product_id}",
    UserSession: lambda user: user.name,
    MemoryModule: lambda module: module.slot,
}


def _sort_key(item: BaseModel) -> tuple[str, str]:
    primary = _PRIMARY.get(type(item), lambda _: "")
    return primary(item), item.model_dump_json()


def _cap(field: str) -> int | None:
    for meta in HardwareInventory.model_fields[field].metadata:
        if isinstance(meta, MaxLen):
            return meta.max_length
    return None


def ordered(field: str, value: Any) -> Any:
    """``value`` sorted and capped when it is a list (memory modules included), else unchanged."""
    if isinstance(value, MemoryInfo):
        modules = sorted(value.modules, key=_sort_key)[:256]
        return value.model_copy(update={"modules": modules})
    if isinstance(value, list):
        items = sorted(value, key=_sort_key)
        cap = _cap(field)
        if cap is not None and len(items) > cap:
            log.warning("hardware part %s listed %d items; reporting the first %d", field, len(items), cap)
            items = items[:cap]
        return items
    return value


def gather(parts: Mapping[str, Part]) -> HardwareInventory:
    """The hardware section from its parts; a part that fails or does not fit is reported empty."""
    fields: dict[str, Any] = {}
    for name, part in parts.items():
        try:
            value = ordered(name, part())
            HardwareInventory.model_validate({name: value})
        except ValidationError as exc:
            log.warning("hardware part %s does not fit the wire model (%d errors); reported empty",
                        name, exc.error_count())
            continue
        except Exception as exc:
            log.warning("hardware part %s failed (%s: %s); reported empty", name, type(exc).__name__, exc)
            continue
        fields[name] = value
    return HardwareInventory(**fields)
