"""Exponential backoff with full jitter, for retrying fetches and pushes.

The n-th delay is drawn uniformly from ``[0, min(maximum, initial * 2**n)]`` ("full
jitter"): replicas that failed together spread out instead of retrying in lockstep.
The random source is a parameter so tests can pass a seeded ``random.Random``.
"""

from __future__ import annotations

import random as _random


class Backoff:
    """Delays for consecutive failures; :meth:`reset` after a success starts over."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0, *,
                 random: _random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"Backoff needs 0 < initial <= maximum, got initial={initial}, "
                             f"maximum={maximum}")
        self.initial = initial
        self.maximum = maximum
        self._random = random if random is not None else _random.Random()  # noqa: S311 - jitter, not secrets
        self._failures = 0

    @property
    def failures(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._failures

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        # Once the cap is reached the exponent stops mattering; bounding it avoids huge floats.
        exponent = min(self._failures, 64)
        return min(self.maximum, self.initial * 2.0**exponent)

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt (grows until ``maximum``)."""
        delay = self._random.uniform(0.0, self.ceiling())
        self._failures += 1
        return delay

    def reset(self) -> None:
        self._failures = 0
