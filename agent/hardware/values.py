"""Turning untrusted OS and firmware values into the numbers, strings and dates the wire model wants.

Every collector reads values it does not control: sysfs files, PowerShell's JSON, system_profiler's
JSON. A value of the wrong type, an absurd number or an unknown unit must cost that one value, never
the report: these helpers return a neutral value (0, "", None) instead of raising, and log at debug so
a technician can still find out why a field stayed empty. :func:`build` does the same for a whole
wire-model item, so one bad disk drops that disk and keeps the others.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

MAX_BYTES = 2**62
MAX_COUNT = 1_000_000
GIB = 1024**3

M = TypeVar("M", bound=BaseModel)

_NUMBER = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*([A-Za-z/]*)\s*$")
# English and French units (system_profiler localises "Go", "To"): the power of the base they stand for.
_UNITS = {"": 0, "b": 0, "bytes": 0, "o": 0, "k": 1, "kb": 1, "kib": 1, "ko": 1, "m": 2, "mb": 2, "mib": 2, "mo": 2,
          "g": 3, "gb": 3, "gib": 3, "go": 3, "t": 4, "tb": 4, "tib": 4, "to": 4, "p": 5, "pb": 5, "pib": 5, "po": 5}
_FREQUENCY_MHZ = {"hz": 1e-6, "khz": 1e-3, "mhz": 1.0, "ghz": 1000.0, "mt/s": 1.0, "gt/s": 1000.0}
_MS_DATE = re.compile(r"^/?Date\((-?\d{1,15})(?:[+-]\d{4})?\)/?$")
_DMTF_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.\d{6}([+-]\d{3}|\*{3})$")
_EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def text(value: object) -> str:
    """A string field: strings as they are, numbers as their decimal text, anything else empty.

    Cleaning (control characters, length) is the schema's :data:`schemas.inventory.Text` job.
    """
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    return ""


def number(value: object) -> float | None:
    """A finite number from an int, a float or a numeric string ("123", " 4.5 ", "3,1"); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = float(value.strip().replace(",", "."))
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def count(value: object, *, what: str, high: int = MAX_COUNT) -> int:
    """A whole number in ``0..high``; anything else (garbage, negative, absurd) is 0, logged at debug."""
    parsed = number(value)
    if parsed is None or parsed < 0 or parsed > high:
        if value not in (None, ""):
            log.debug("ignoring %s: %.80r is not a number in 0..%d", what, value, high)
        return 0
    return int(parsed)


def byte_count(value: object, *, what: str) -> int:
    """A size in bytes (int, float or numeric string), 0 when it is not one."""
    return count(value, what=what, high=MAX_BYTES)


def size(value: object, *, what: str, base: int = 1000) -> int:
    """Bytes from "16 GB", "500.28 GB", "8192 MB", "1,5 TB" or a plain number.

    ``base`` is 1000 for storage (macOS reports disks in decimal units) and 1024 for memory
    (a "16 GB" Mac has 16 GiB).
    """
    if not isinstance(value, str):
        return byte_count(value, what=what)
    match = _NUMBER.match(value[:64])
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        log.debug("ignoring %s: %.80r is not a size", what, value)
        return 0
    amount = float(match.group(1).replace(",", ".")) * base ** _UNITS[unit]
    return byte_count(round(amount), what=what)


def frequency_mhz(value: object, *, what: str) -> float:
    """MHz from "2.6 GHz", "3,1 GHz", "2400 MHz", "3200 MT/s" or a plain number (taken as MHz)."""
    if not isinstance(value, str):
        parsed = number(value)
    else:
        match = _NUMBER.match(value[:64])
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in {*_FREQUENCY_MHZ, ""}:
            log.debug("ignoring %s: %.80r is not a frequency", what, value)
            return 0.0
        parsed = float(match.group(1).replace(",", ".")) * _FREQUENCY_MHZ.get(unit, 1.0)
    if parsed is None or not 0 <= parsed <= 100_000:
        if value not in (None, ""):
            log.debug("ignoring %s: %.80r is not a frequency in 0..100000 MHz", what, value)
        return 0.0
    return round(parsed, 1)


def when(value: object, *, what: str) -> datetime | None:
    """A UTC datetime from the shapes the OS tools print, or None.

    Accepted: ``/Date(1700000000000)/`` (Windows PowerShell 5.1's ConvertTo-Json), an object with
    ``value``/``DateTime`` (the same, for ETS-adapted CIM properties), ISO 8601 (PowerShell 7),
    DMTF ``20230118000000.000000+000`` (WMI), and a Unix timestamp in seconds.
    """
    if isinstance(value, Mapping):
        return when(value.get("value", value.get("DateTime")), what=what)
    parsed: datetime | None = None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and len(value) <= 64:
            parsed = _date_text(value.strip())
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None or not _EARLIEST <= parsed <= _LATEST:
        if value not in (None, ""):
            log.debug("ignoring %s: %.80r is not a date between 1980 and 2200", what, value)
        return None
    return parsed


def _date_text(value: str) -> datetime | None:
    if match := _MS_DATE.match(value):
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    if match := _DMTF_DATE.match(value):
        year, month, day, hour, minute, second, offset = match.groups()
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
        minutes = 0 if offset.startswith("*") else int(offset)
        return moment - timedelta(minutes=minutes)
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def records(value: object) -> list[Mapping[str, Any]]:
    """A list of JSON objects from a list, a lone object or nothing.

    PowerShell's ConvertTo-Json prints a one-element result as the bare object, not a list.
    """
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def record(value: object) -> Mapping[str, Any]:
    """The first JSON object of ``value`` (an object or a list of them), or an empty mapping."""
    found = records(value)
    return found[0] if found else {}


def floor_gib(value: int) -> int:
    """``value`` rounded down to whole GiB.

    Free space changes every minute; the hardware section is hashed and re-sent when it changes,
    so free space is reported in whole GiB to resend only when it really moved.
    """
    return value - value % GIB


def build(schema: type[M], what: str, /, **fields: Any) -> M | None:
    """``schema(**fields)``, or None (logged at debug) when the values do not fit the wire model.

    Only the number of errors is logged, never the values: they may be secret (a licence key).
    """
    try:
        return schema(**fields)
    except ValidationError as exc:
        log.debug("dropping %s: %d value(s) do not fit %s", what, exc.error_count(), schema.__name__)
        return None
