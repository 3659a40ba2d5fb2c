"""Run-now requests as check-ins see them: the whole fleet's pending requests, re-read at most every ``ttl``.

A check-in must stay free of per-agent queries, so the requests waiting for any agent are read
in one query and remembered for ``ttl`` seconds (as the principal cache remembers agents). This
process forgets them at once when it stores a request or a result; another replica's writes show
within ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from controller.store.engine import Store
from controller.store.policies import pending_runs
from schemas.protocol import PolicyRunRequest


class PendingRuns:
    def __init__(self, store: Store, now: Callable[[], datetime], *, ttl: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._now = now
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._until = 0.0
        self._pending: dict[str, list[PolicyRunRequest]] = {}

    def of(self, agent_id: str) -> list[PolicyRunRequest]:
        """The requests still waiting for ``agent_id``'s results, oldest first."""
        with self._lock:
            if self._monotonic() >= self._until:
                self._pending = pending_runs(self._store, self._now())
                self._until = self._monotonic() + self._ttl
            return list(self._pending.get(agent_id, ()))

    def forget(self) -> None:
        with self._lock:
            self._until = 0.0
