"""When a failed job may be tried again: a deterministic backoff the planner applies.

Pure arithmetic on the failure count and the time of the last failure, so the
planner stays a function of (desired, observed, now). No jitter here: jobs are
spread by agents' own check-in jitter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    """After this many consecutive failures of one (package, version, action) the planner gives up
    until the desired state changes (a new version, or the deployment changes ensure)."""
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, failures: int) -> timedelta:
        if failures <= 0:
            return timedelta(0)
        factor: int = 2 ** min(failures - 1, 30)
        return min(self.first_delay * factor, self.max_delay)

    def gave_up(self, failures: int) -> bool:
        return failures >= self.max_attempts

    def next_attempt(self, failures: int, last_failed_at: datetime) -> datetime:
        return last_failed_at + self.delay(failures)


DEFAULT_RETRY = RetryPolicy()
