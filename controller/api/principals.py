"""A short-lived memory of authenticated agents, so a steady check-in needs no database read.

An agent checks in every minute and, most of the time, nothing is new. Remembering the
authenticated principal for ``ttl`` seconds turns that into a dictionary lookup. What
could go stale is bounded: this process forgets an agent as soon as it writes something
the principal carries (jobs issued or cancelled, inventory ingested, a job reported), and
another replica's writes (or a revocation) show within ``ttl``. Keys are SHA-256 digests
of the credential, never the credential itself.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable

from controller.store import AgentPrincipal


class PrincipalCache:
    def __init__(self, ttl: float = 2.0, *, max_entries: int = 200_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[bytes, tuple[float, AgentPrincipal]] = {}
        self._keys: dict[str, bytes] = {}
        self._guard = threading.Lock()

    @staticmethod
    def _key(credential: str) -> bytes:
        return hashlib.sha256(credential.encode()).digest()

    def get(self, credential: str) -> AgentPrincipal | None:
        entry = self._entries.get(self._key(credential))
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def put(self, credential: str, principal: AgentPrincipal) -> None:
        key = self._key(credential)
        with self._guard:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
                self._keys.clear()
            # Spread expiries over [ttl, 2 ttl) by the key, so 500 agents that first checked in
            # together do not all go back to the database in the same instant.
            self._entries[key] = (self._clock() + self.ttl * (1 + key[0] / 256), principal)
            self._keys[principal.agent_id] = key

    def forget(self, agent_ids: Iterable[str]) -> None:
        with self._guard:
            for agent_id in agent_ids:
                key = self._keys.pop(agent_id, None)
                if key is not None:
                    self._entries.pop(key, None)
