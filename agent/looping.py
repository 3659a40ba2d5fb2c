"""The service loop behind ``fleetward-agent run``: cycles, spaced sensibly, until told to stop.

Spacing:

* after a quiet cycle, wait between 80 % and 100 % of the controller's check-in
  interval (jitter spreads a fleet that rebooted together; the interval stays an
  upper bound, so a change reaches every online agent within one interval);
* after a cycle that ran jobs, start the next one at once with a long-poll
  lease (``long_poll_seconds``), so follow-up jobs (the next rollout wave, an
  upgrade after an install) arrive without waiting a whole interval;
* after an error, exponential backoff with full jitter (a random wait between
  0 and min(cap, 2^n s)), but never less than the controller's Retry-After.

A rejected credential or a broken data dir ends the loop (the CLI turns them
into exit codes); anything else is logged and retried, because a service that
dies on a transient fault helps nobody. Stopping: :attr:`ServiceLoop.stop` is
an event the CLI sets from SIGINT/SIGTERM; the loop checks it between jobs and
wakes from its wait at once. A long-poll already in flight finishes first (at
most ``long_poll_seconds`` plus the HTTP timeout).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.cycle import Cycle
from agent.errors import ConfigError, CredentialRejected, TemporaryError
from agent.settings import AgentSettings

log = logging.getLogger(__name__)

JITTER = 0.2


def jittered(seconds: float, rng: random.Random) -> float:
    """A wait of up to ``seconds``, at least ``1 - JITTER`` of it."""
    return seconds * rng.uniform(1 - JITTER, 1.0)


@dataclass
class Backoff:
    """Exponential backoff with full jitter (the AWS architecture blog's "full jitter")."""

    cap: float
    rng: random.Random
    base: float = 1.0
    attempts: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.attempts, 32))
        self.attempts += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class ServiceLoop:
    settings: AgentSettings
    cycle: Cycle
    rng: random.Random = field(default_factory=random.Random)
    stop: threading.Event = field(default_factory=threading.Event)
    wait: Callable[[float], object] | None = None
    """How to pause; defaults to ``stop.wait`` (tests pass a recorder)."""
    max_cycles: int | None = None
    """Stop after this many cycles (tests); None = until stopped."""

    def run(self) -> None:
        """Cycle until stopped; raises CredentialRejected or ConfigError when it cannot go on."""
        backoff = Backoff(cap=self.settings.backoff_cap_seconds, rng=self.rng)
        pause = self.wait or self.stop.wait
        follow_up = False
        cycles = 0
        while not self.stop.is_set():
            delay, follow_up = self._one(backoff, follow_up)
            cycles += 1
            if self.max_cycles is not None and cycles >= self.max_cycles:
                return
            if not follow_up and not self.stop.is_set():
                pause(delay)
        log.info("stopping: signal received")

    def _one(self, backoff: Backoff, follow_up: bool) -> tuple[float, bool]:
        """Run one cycle; returns the pause before the next and whether the next one follows up at once."""
        long_poll = self.settings.long_poll_seconds
        try:
            report = self.cycle.run(always_lease=follow_up, wait_seconds=long_poll if follow_up else 0.0,
                                    should_stop=self.stop.is_set)
        except (CredentialRejected, ConfigError):
            raise
        except TemporaryError as exc:
            retry_after = min(exc.delay, self.settings.max_retry_after_seconds)
            delay = max(backoff.next_delay(), retry_after)
            log.warning("%s; retrying in %.0f s", exc.message, delay)
            return delay, False
        except Exception as exc:  # keep the service alive; the log says what broke
            delay = backoff.next_delay()
            log.exception("cycle failed (%s); retrying in %.0f s", exc, delay)
            return delay, False
        backoff.reset()
        for job in report.jobs:
            log.info("job %s %s %s %s: %s%s", job.job_id, job.action or "-", job.package or "-",
                     job.version or "-", job.result, f" ({job.reason})" if job.reason else "")
        if report.jobs_executed and long_poll > 0:
            return 0.0, True
        return jittered(report.interval_seconds, self.rng), False
