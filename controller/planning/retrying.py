"""When a failed job may be tried again: a deterministic backoff the planner applies.

Pure arithmetic on the failure count and the time of the last failure, so the
planner stays a function of (desired, observed, now). No jitter here: jobs are
spread by agents' own check-in jitter.

A result that said "retry later" (another installation running, a reboot pending) is
not a failed attempt: the job is issued again once the delay the agent gave has passed,
and only ``max_deferrals`` such answers in a row make the planner give up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from controller.observed import FailureRecord


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    """After this many consecutive failures of one (package, version, action) the planner gives up
    until the desired state changes (a new version, or the deployment changes ensure)."""
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    max_deferrals: int = 48
    """After this many "retry later" answers in a row the planner gives up (a day of hourly
    "restart first" answers, or eight hours of "another installation is running")."""

    def delay(self, failures: int) -> timedelta:
        if failures <= 0:
            return timedelta(0)
        factor: int = 2 ** min(failures - 1, 30)
        return min(self.first_delay * factor, self.max_delay)

    def gave_up(self, failures: int) -> bool:
        return failures >= self.max_attempts

    def next_attempt(self, failures: int, last_failed_at: datetime) -> datetime:
        return last_failed_at + self.delay(failures)

    def hold(self, failure: FailureRecord | None, now: datetime
             ) -> tuple[Literal["failed", "retry-later"], str] | None:
        """Why the next attempt must wait (the device's state and the reason), or None when it may go now."""
        if failure is None:
            return None
        if failure.retry_at is not None:
            if failure.deferrals >= self.max_deferrals:
                return "failed", f"gave up after {failure.deferrals} \"retry later\" answers: {failure.reason}"
            if now < failure.retry_at:
                return "retry-later", (f"the installer asked to retry later: {failure.reason}; retrying after "
                                       f"{failure.retry_at.isoformat(timespec='seconds')}")
            return None
        if failure.failures <= 0:
            return None
        if self.gave_up(failure.failures):
            return "failed", f"gave up after {failure.failures} failed attempts: {failure.reason}"
        next_at = self.next_attempt(failure.failures, failure.last_failed_at)
        if now < next_at:
            return "failed", (f"attempt {failure.failures} failed: {failure.reason}; "
                              f"retrying after {next_at.isoformat(timespec='seconds')}")
        return None


DEFAULT_RETRY = RetryPolicy()
