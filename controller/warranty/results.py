"""What a vendor said about one serial, in one shape for every vendor.

Each vendor lists several entitlements per device (base warranty, ProSupport, accidental
damage, "initial setup" offers...). The row we keep per serial summarises them: the span
from the earliest start to the latest end, and the service level of the entitlement that
ends last (what the device is covered by until its warranty is over). The entitlements
themselves are kept, shortened, in ``coverages`` for the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

MAX_COVERAGES = 50
"""Entitlements kept per serial; a device with more is unusual and the rest say nothing new."""
MAX_TEXT = 200


@dataclass(frozen=True)
class Coverage:
    """One entitlement: a service level over a date span."""

    name: str
    start: date | None
    end: date | None
    kind: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "kind": self.kind}


@dataclass(frozen=True)
class WarrantyResult:
    """A vendor's answer for one serial. ``found`` False: the vendor does not know the serial."""

    serial: str
    vendor: str
    found: bool = True
    model: str = ""
    coverages: tuple[Coverage, ...] = ()
    details: dict[str, str] = field(default_factory=dict)
    """A few more facts the vendor gave (ship date, country), as text."""

    @property
    def start(self) -> date | None:
        starts = [c.start for c in self.coverages if c.start is not None]
        return min(starts) if starts else None

    @property
    def end(self) -> date | None:
        ends = [c.end for c in self.coverages if c.end is not None]
        return max(ends) if ends else None

    @property
    def service_level(self) -> str:
        """The service level of the entitlement that ends last."""
        dated = [c for c in self.coverages if c.end is not None]
        if not dated:
            return ""
        return max(dated, key=lambda c: (c.end or date.min, c.name)).name


def text(value: object, limit: int = MAX_TEXT) -> str:
    """A vendor field as bounded text ('' for anything that is not a string or a number)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()[:limit]


def parse_day(value: object) -> date | None:
    """A vendor date ('2024-03-01', '2024-03-01T00:00:00Z', '2024-03-01T05:00:00.000+0000') or None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def coverages(items: Iterable[Coverage]) -> tuple[Coverage, ...]:
    """Sorted by end then name, at most :data:`MAX_COVERAGES`, entitlements without any date dropped."""
    kept = [c for c in items if c.start is not None or c.end is not None]
    kept.sort(key=lambda c: (c.end or date.min, c.start or date.min, c.name))
    return tuple(kept[-MAX_COVERAGES:])


def result_json(result: WarrantyResult, fetched_at: datetime) -> dict[str, Any]:
    """What a vendor answer keeps in ``asset_warranties.data['vendor']``, to restore it later."""
    return {"vendor": result.vendor, "found": result.found, "model": result.model,
            "coverages": [c.as_json() for c in result.coverages], "details": dict(result.details),
            "fetched_at": fetched_at.isoformat()}


def result_from_json(serial: str, data: dict[str, Any]) -> WarrantyResult:
    """The inverse of :func:`result_json` (tolerant: the JSON was written by us, maybe by an older version)."""
    items = data.get("coverages") if isinstance(data.get("coverages"), list) else []
    return WarrantyResult(
        serial=serial, vendor=text(data.get("vendor")), found=bool(data.get("found", True)),
        model=text(data.get("model")),
        coverages=coverages(Coverage(text(c.get("name")), parse_day(c.get("start")), parse_day(c.get("end")),
                                     text(c.get("kind"))) for c in items or [] if isinstance(c, dict)),
        details={str(k): text(v) for k, v in (data.get("details") or {}).items()})
