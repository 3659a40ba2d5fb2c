"""Timezone-aware UTC timestamps on both engines.

PostgreSQL stores ``timestamptz``; SQLite has no time zones and stores naive text.
:class:`UtcDateTime` normalises on the way in (any aware datetime becomes UTC; a naive
one is refused, because guessing its zone is how off-by-hours bugs start) and on the
way out (naive values from SQLite are UTC by construction, PostgreSQL values are
converted to UTC), so the rest of the store only ever sees aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is a programming error."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given to the store; pass an aware UTC datetime")
    return value.astimezone(UTC)


def duration(value: timedelta | float) -> timedelta:
    """A duration given as a timedelta or as seconds (settings hold seconds)."""
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]
