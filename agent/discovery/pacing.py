"""A token bucket that spaces probes to ``rate_per_second``, on an injected clock.

Probes go out no faster than the client configured, because a scan that floods a small office network
or trips an IDS is worse than a slow one. The bucket holds ``burst`` tokens (1 by default: probes evenly
spaced, never a burst); :meth:`TokenBucket.acquire` sleeps until a token is there. Clock and sleep are
parameters so tests measure the rate without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_EPSILON = 1e-9


class TokenBucket:
    def __init__(self, rate: float, *, burst: int = 1, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, not rate={rate} burst={burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, deadline: float | None = None) -> bool:
        """Take one token, sleeping as long as needed; ``False`` (no token taken) if that passes ``deadline``."""
        with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1 - _EPSILON:  # float sums of (elapsed x rate) fall a hair short of 1
                    self._tokens = max(0.0, self._tokens - 1)
                    return True
                wait = (1 - self._tokens) / self.rate
                if deadline is not None and now + wait > deadline:
                    return False
                self._sleep(wait)
