"""Exponential backoff with full jitter."""

from __future__ import annotations

import random

import pytest

from controller.gitsource import Backoff


def test_delays_stay_under_a_ceiling_that_doubles_up_to_the_maximum():
    backoff = Backoff(initial=1.0, maximum=10.0, random=random.Random(7))
    ceilings = []
    for _ in range(8):
        ceilings.append(backoff.ceiling())
        assert 0.0 <= backoff.next_delay() <= ceilings[-1]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]


def test_full_jitter_spreads_delays_over_the_whole_range():
    backoff = Backoff(initial=8.0, maximum=8.0, random=random.Random(3))
    delays = [backoff.next_delay() for _ in range(2000)]
    assert min(delays) < 0.5 and max(delays) > 7.5
    assert 3.5 < sum(delays) / len(delays) < 4.5


def test_the_same_seed_gives_the_same_delays():
    def run() -> list[float]:
        backoff = Backoff(initial=0.5, maximum=30.0, random=random.Random(42))
        return [backoff.next_delay() for _ in range(6)]

    assert run() == run()


def test_reset_starts_over():
    backoff = Backoff(initial=2.0, maximum=300.0, random=random.Random(1))
    for _ in range(5):
        backoff.next_delay()
    assert backoff.failures == 5 and backoff.ceiling() == 64.0
    backoff.reset()
    assert backoff.failures == 0 and backoff.ceiling() == 2.0


def test_many_failures_do_not_overflow():
    backoff = Backoff(initial=1.0, maximum=60.0, random=random.Random(0))
    for _ in range(5000):
        assert backoff.next_delay() <= 60.0


@pytest.mark.parametrize(("initial", "maximum"), [
    pytest.param(0.0, 1.0, id="zero-initial"),
    pytest.param(5.0, 1.0, id="maximum-below-initial"),
])
def test_nonsense_settings_are_refused(initial, maximum):
    with pytest.raises(ValueError, match="0 < initial <= maximum"):
        Backoff(initial=initial, maximum=maximum)
