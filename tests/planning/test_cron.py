"""Cron parsing and the next start of a maintenance window, in the window's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.cron import CronError, next_start, parse_cron

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(("expression", "after", "expected"), [
    pytest.param("0 22 * * *", datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
                 datetime(2026, 11, 27, 21, 0, tzinfo=UTC), id="tonight-in-berlin-winter"),
    pytest.param("0 22 * * *", datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
                 datetime(2026, 7, 1, 20, 0, tzinfo=UTC), id="tonight-in-berlin-summer"),
    pytest.param("0 22 * * 1-5", datetime(2026, 11, 27, 22, 0, tzinfo=UTC),  # a Friday, after 22:00 local
                 datetime(2026, 11, 30, 21, 0, tzinfo=UTC), id="weekdays-skip-the-weekend"),
    pytest.param("30 2 * * *", datetime(2026, 3, 28, 12, 0, tzinfo=UTC),  # 02:30 does not exist on 29 March
                 datetime(2026, 3, 29, 1, 30, tzinfo=UTC), id="dst-gap-maps-forward"),
    pytest.param("*/15 8-9 1 * 0", datetime(2026, 11, 27, 12, 0, tzinfo=UTC),  # the 29th is a Sunday
                 datetime(2026, 11, 29, 7, 0, tzinfo=UTC), id="day-of-month-or-weekday"),
])
def test_next_start(expression: str, after: datetime, expected: datetime) -> None:
    assert next_start(parse_cron(expression), BERLIN, after) == expected


def test_a_date_that_never_comes_has_no_start() -> None:
    assert next_start(parse_cron("0 0 31 2 *"), BERLIN, datetime(2026, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(("expression", "says"), [
    pytest.param("* * * *", "has 4 fields", id="four-fields"),
    pytest.param("60 * * * *", "minute: '60' is outside 0-59", id="minute-60"),
    pytest.param("* * * * 8", "day of week: '8' is outside 0-7", id="weekday-8"),
    pytest.param("*/0 * * * *", "minute: step '0'", id="step-zero"),
    pytest.param("5-1 * * * *", "reversed", id="reversed-range"),
    pytest.param("MON * * * *", "minute: 'MON' is not", id="names-not-supported"),
])
def test_bad_expressions_name_the_field(expression: str, says: str) -> None:
    with pytest.raises(CronError, match=says):
        parse_cron(expression)


@settings(max_examples=200, deadline=None)
@given(minute=st.integers(0, 59), hour=st.integers(0, 23),
       after=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_next_start_is_later_matching_and_the_first(minute: int, hour: int, after: datetime) -> None:
    start = next_start(parse_cron(f"{minute} {hour} * * *"), BERLIN, after)
    assert start is not None and start > after
    local = start.astimezone(BERLIN)
    # The wall-clock time matches, except when it fell into the spring-forward gap.
    assert (local.hour, local.minute) == (hour, minute) or (hour == 2 and local.month == 3)
    assert (start - after).days <= 1
