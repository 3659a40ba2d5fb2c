"""``SealedSecrets``: how the controller opens sealed values, with a small cache.

Opening costs an X25519 agreement and an HKDF (tens of microseconds); the same few
values (a webhook secret, PSA credentials) are opened again and again, so the last
opened ones are kept, keyed by their sealed text. A cached value is only handed out
while its key is still in the keyring: removing a key file closes its values at once.
The cache is bounded and holds :class:`Secret` objects only, never plain strings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from controller.secrets.errors import UnknownSealingKey
from controller.secrets.keyring import KeyFolder, Keyring
from controller.secrets.sealing import open_sealed
from controller.secrets.values import Secret

DEFAULT_CACHE_ENTRIES = 256


class SealedSecrets:
    """Opens sealed values with a keyring (fixed) or a key folder (followed as it changes)."""

    def __init__(self, keys: Keyring | KeyFolder, *, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self._current: Callable[[], Keyring]
        self._reload: Callable[[], Keyring]
        if isinstance(keys, KeyFolder):
            self._current, self._reload = keys.keyring, keys.reload
        else:
            self._current = self._reload = lambda: keys
        self._max = max(0, max_entries)
        self._cache: OrderedDict[str, Secret] = OrderedDict()
        self._lock = threading.Lock()
        self.opened = 0
        """How many values were decrypted (cache misses); for tests and metrics."""

    def open(self, value: str) -> Secret:
        """The plaintext of ``value``; raises a SealedValueError that says why it cannot be opened."""
        keyring = self._current()
        with self._lock:
            cached = self._cache.get(value)
            if cached is not None and cached.key_id in keyring:
                self._cache.move_to_end(value)
                return cached
            self._cache.pop(value, None)
        try:
            secret = open_sealed(value, keyring)
        except UnknownSealingKey:
            # A key file added moments ago may not show in the folder's listing yet: look once more.
            secret = open_sealed(value, self._reload())
        with self._lock:
            self.opened += 1
            if self._max:
                self._cache[value] = secret
                self._cache.move_to_end(value)
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return secret

    def forget(self) -> None:
        """Drop every cached value (for example after the applied revision changed)."""
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return f"SealedSecrets(cached={len(self._cache)})"
