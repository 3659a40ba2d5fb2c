"""OAuth2 client-credentials tokens, kept until they expire and fetched again once on a 401.

Dell and HP hand out bearer tokens for an hour or so. Asking for one per batch would
double the calls and count against the vendor's rate limit, so a provider keeps its token
until shortly before ``expires_in`` runs out. A vendor may still revoke it early: a 401 on
an API call drops the token and the call is made once more with a fresh one; a second 401
means the credentials themselves are refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from controller.warranty.calling import VendorCaller, shape_error

EXPIRY_MARGIN = 60.0
"""A token this close to its expiry is replaced before use."""
DEFAULT_LIFETIME = 300.0
"""When a vendor does not say how long a token lives."""
MAX_LIFETIME = 24 * 3600.0


class TokenCache:
    """One bearer token; ``fetch`` gets a new (token, lifetime in seconds)."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._until = 0.0
        self.fetched = 0
        """How many tokens were fetched (for tests and metrics)."""

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._until - EXPIRY_MARGIN:
                token, lifetime = self._fetch()
                self.fetched += 1
                self._token, self._until = token, self._clock() + lifetime
            return self._token

    def drop(self, token: str) -> None:
        """Forget ``token`` (when it is still the current one)."""
        with self._lock:
            if self._token == token:
                self._token = None


def read_token(caller: VendorCaller, answer: object, what: str) -> tuple[str, float]:
    """(access_token, lifetime) from an OAuth2 token answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
        raise shape_error(caller.vendor, what, "an object with access_token")
    expires_in = answer.get("expires_in")
    try:
        lifetime = float(expires_in) if expires_in is not None else DEFAULT_LIFETIME
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    return answer["access_token"], min(max(lifetime, 0.0), MAX_LIFETIME)


def send_with_token(tokens: TokenCache, call: Callable[[str], tuple[httpx.Response, bytes]]
                    ) -> tuple[httpx.Response, bytes]:
    """``call(token)``; on a 401 once more with a fresh token. The caller checks the final status."""
    token = tokens.get()
    response, body = call(token)
    if response.status_code == 401:
        tokens.drop(token)
        response, body = call(tokens.get())
    return response, body
