"""What every client of a third-party HTTP API shares: loopback checks, Retry-After, capped bodies.

The warranty providers and the ticket connectors each turn failures into their own error tree
(fix fleet.yaml, retry later, …); the mechanics underneath are the same and live here, free of
either domain: which hosts may be spoken to in plain http, how long a Retry-After asks to wait,
and reading a body without ever holding more than a cap of it.
"""

from __future__ import annotations

import ipaddress
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

DEFAULT_THROTTLE_DELAY = 60.0
"""Seconds to wait after a throttling answer whose Retry-After cannot be measured."""


class BodyTooLarge(Exception):
    """The answer went past the cap; nothing of it is kept."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be called — "not-http", or "plain-http" to a host that is not loopback —
    or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "not-http"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "plain-http"
    return None


def retry_after(response: httpx.Response, cap: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), at most ``cap``; None when absent."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), cap)
    try:
        until = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers["date"]) if "date" in response.headers else None
    except (TypeError, ValueError, IndexError):
        return None
    if sent is None:  # an absolute date and no clock of the server's to measure it from
        return DEFAULT_THROTTLE_DELAY
    return min(max(0.0, (until - sent).total_seconds()), cap)


def read_capped(client: httpx.Client, method: str, url: str, max_body: int,
                **kwargs: Any) -> tuple[httpx.Response, bytes]:
    """The response and its body; BodyTooLarge past ``max_body`` bytes. httpx's transport errors
    (timeouts, refused connections) propagate for the caller to name."""
    with client.stream(method, url, **kwargs) as response:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_body:
                raise BodyTooLarge
        return response, bytes(body)
