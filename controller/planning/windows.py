"""Maintenance windows: when a device's next install may happen, as (not_before, not_after).

Pure: a :class:`~schemas.rollouts.Window`, the zone it is read in and ``now`` in; the open
window (or the next one) out. A job issued for a window carries both bounds, signed; the agent
re-checks them against its own clock before installing (it may download earlier, to pre-stage).
Jobs are issued at most :data:`PRESTAGE_HORIZON` ahead of their window, so an agent does not
hold a job for weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.cron import Cron, next_start, parse_cron
from schemas.rollouts import Window

PRESTAGE_HORIZON = timedelta(hours=24)


@dataclass(frozen=True)
class Slot:
    """One occurrence of a window: installs allowed from ``not_before`` until ``not_after``."""

    not_before: datetime
    not_after: datetime

    def is_open(self, now: datetime) -> bool:
        return self.not_before <= now < self.not_after


@lru_cache(maxsize=256)
def _cron(expression: str) -> Cron:
    return parse_cron(expression)


def slot_for(window: Window, zone_name: str, now: datetime) -> Slot | None:
    """The occurrence open at ``now``, else the next one; None if the cron never fires."""
    duration = timedelta(minutes=window.duration_minutes)
    zone = ZoneInfo(window.timezone or zone_name)
    # An occurrence that started within the last ``duration`` is still open.
    start = next_start(_cron(window.cron), zone, now - duration)
    if start is None:
        return None
    return Slot(start, start + duration)


def describe(slot: Slot | None) -> str:
    if slot is None:
        return "the maintenance window never opens (check its cron expression)"
    return f"waiting for the maintenance window opening {slot.not_before.isoformat(timespec='minutes')}"
