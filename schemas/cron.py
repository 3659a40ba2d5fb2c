"""Five-field cron expressions (minute hour day-of-month month day-of-week) and their next start.

A small parser of our own rather than a dependency: ``schemas`` is installed on every agent,
croniter is in maintenance mode, and maintenance windows need only the standard five fields
(``*``, numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n`` / ``a-b/n``; day-of-week 0-7
with 0 and 7 both Sunday). As in Vixie cron, when both day-of-month and day-of-week are
restricted a day matches if either does.

Occurrences are wall-clock times in a time zone: :func:`next_start` walks calendar days in that
zone, so a window at 02:30 stays at 02:30 local across daylight-saving changes (a start that
falls in a DST gap is taken at the same wall-clock time, which zoneinfo maps forward).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))
MAX_CRON_CHARS = 200
SEARCH_DAYS = 366 * 5
"""How far ahead :func:`next_start` looks (covers 29 February in a leap year)."""


class CronError(ValueError):
    """The expression is not a five-field cron expression; the message says which field and why."""


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 = Monday ... 6 = Sunday (Python's numbering; cron's 0/7 Sunday is converted)."""
    any_day: bool
    any_weekday: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, day.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday


def _field(text: str, name: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{name}: step {step_text!r} must be a whole number of at least 1")
            step = int(step_text)
        if body == "*":
            start, end = low, high
        else:
            first, dash, last = body.partition("-")
            if not first.isdigit() or (dash and not last.isdigit()):
                raise CronError(f"{name}: {part!r} is not '*', a number, a range 'a-b' or a step '*/n'")
            start = int(first)
            end = int(last) if dash else (high if slash else start)
            if not low <= start <= end <= high:
                raise CronError(f"{name}: {body!r} is outside {low}-{high} (or the range is reversed)")
        found.update(range(start, end + 1, step))
    return found


def parse_cron(expression: str) -> Cron:
    """Parse ``expression``; :class:`CronError` names the field at fault."""
    if len(expression) > MAX_CRON_CHARS:
        raise CronError(f"a cron expression has at most {MAX_CRON_CHARS} characters")
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"{expression!r} has {len(parts)} fields; write five: minute hour day-of-month "
                        "month day-of-week, e.g. '0 22 * * 1-5' (22:00 on weekdays)")
    values = [_field(text, name, low, high) for text, (name, low, high) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset((day - 1) % 7 for day in values[4])  # cron: 0/7 Sunday, 1 Monday
    return Cron(minutes=tuple(sorted(values[0])), hours=tuple(sorted(values[1])),
                days=frozenset(values[2]), months=frozenset(values[3]), weekdays=weekdays,
                any_day=parts[2] == "*", any_weekday=parts[4] == "*")


def next_start(cron: Cron, zone: ZoneInfo, after: datetime) -> datetime | None:
    """The first occurrence strictly after ``after`` (aware), as an aware UTC datetime.

    None when none falls within :data:`SEARCH_DAYS` (e.g. '0 0 31 2 *', 31 February).
    """
    local = after.astimezone(zone)
    day = local.date()
    for offset in range(SEARCH_DAYS):
        current = day + timedelta(days=offset)
        if not cron.matches_day(current):
            continue
        for hour in cron.hours:
            for minute in cron.minutes:
                start = datetime.combine(current, time(hour, minute), tzinfo=zone)
                # Round-trip through UTC so a wall-clock time in a DST gap maps to a real instant.
                start_utc = start.astimezone(UTC)
                if start_utc > after:
                    return start_utc
    return None
