"""Calling a vendor's API: bounded, timed out, and every failure turned into a warranty error.

Providers describe *what* to ask; this module decides how an HTTP exchange can fail and
what that means: the vendor refused the credentials (fix fleet.yaml), asked us to slow
down (Retry-After, honoured and capped), is down or slow (retry with backoff), or answered
something that is not the documented JSON (retry with backoff). Bodies are read with a
size cap and never quoted in messages: a vendor's error page may echo what we sent.

The transport is a parameter (httpx's ``BaseTransport``), so tests talk to real local
servers or anything else without patching; plain http is refused except to loopback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from controller.outbound import DEFAULT_THROTTLE_DELAY, BodyTooLarge, read_capped, url_problem
from controller.outbound import retry_after as outbound_retry_after
from controller.warranty.errors import (
    VendorAnswerInvalid,
    VendorAuthFailed,
    VendorThrottled,
    VendorUnavailable,
    WarrantySetupError,
)
from controller.warranty.serials import vendor_of

DEFAULT_TIMEOUT = 20.0
"""Seconds for connecting and for each read; a vendor slower than this is retried later."""
MAX_BODY_BYTES = 4 * 1024 * 1024
"""A batch of 100 serials with all their entitlements is well under 1 MiB."""
MAX_RETRY_AFTER = 6 * 3600.0
"""A vendor asking for more than this is asked again after this long anyway."""


def check_base_url(vendor: str, base_url: str) -> str:
    """``base_url`` without a trailing slash; plain http only to a loopback address."""
    problem = url_problem(base_url)
    if problem == "not-http":
        raise WarrantySetupError(vendor, f"base URL {base_url!r} is not an http(s) URL",
                                 hint=f"fix spec.warranty.{vendor}.baseUrl in fleet.yaml")
    if problem == "plain-http":
        raise WarrantySetupError(vendor, f"base URL {base_url!r} uses plain http to a remote host; "
                                         "credentials would cross the network unencrypted",
                                 hint=f"use https in spec.warranty.{vendor}.baseUrl in fleet.yaml")
    return base_url.rstrip("/")


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header, capped at :data:`MAX_RETRY_AFTER`; None when absent."""
    return outbound_retry_after(response, MAX_RETRY_AFTER)


class VendorCaller:
    """One vendor's HTTP client: a base URL, a transport, limits. Thread-safe like httpx.Client."""

    def __init__(self, vendor: str, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = DEFAULT_TIMEOUT, max_body: int = MAX_BODY_BYTES) -> None:
        self.vendor = vendor
        self.base_url = check_base_url(vendor, base_url)
        self.max_body = max_body
        self._client = httpx.Client(transport=transport, timeout=httpx.Timeout(timeout),
                                    follow_redirects=False, trust_env=False,
                                    headers={"Accept": "application/json", "User-Agent": "fleetward-warranty"})

    def close(self) -> None:
        self._client.close()

    def send(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None,
             json_body: Any = None, auth: tuple[str, str] | None = None) -> tuple[httpx.Response, bytes]:
        """The response and its body (at most ``max_body`` bytes); transport failures raised as VendorUnavailable."""
        try:
            return read_capped(self._client, method, self.base_url + path, self.max_body, params=params,
                               headers=headers, data=data, json=json_body, auth=auth)
        except BodyTooLarge:
            raise VendorAnswerInvalid(self.vendor, f"the answer to {method} {path} is larger than "
                                                   f"{self.max_body} bytes",
                                      hint="retried later; if it persists, ask fewer serials per batch") from None
        except httpx.TimeoutException:
            raise VendorUnavailable(self.vendor, f"{method} {path} timed out",
                                    hint="retried later with backoff") from None
        except httpx.TransportError as error:
            raise VendorUnavailable(self.vendor, f"{method} {path} failed: {type(error).__name__}",
                                    hint="retried later with backoff; check the controller's outbound access") from None

    def check(self, response: httpx.Response, what: str) -> None:
        """Raise the warranty error an unsuccessful status means."""
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (401, 403):
            raise VendorAuthFailed(self.vendor, f"{what}: the vendor refused the credentials (HTTP {status})",
                                   hint=f"fix spec.warranty.{self.vendor} in fleet.yaml (seal new credentials "
                                        "with 'fleetward seal')")
        delay = retry_after(response)
        if status == 429 or (status == 503 and delay is not None):
            raise VendorThrottled(self.vendor, f"{what}: rate limited (HTTP {status})",
                                  hint="tried again after the delay the vendor asked for",
                                  delay=delay if delay is not None else DEFAULT_THROTTLE_DELAY)
        if status >= 500:
            raise VendorUnavailable(self.vendor, f"{what}: the vendor failed (HTTP {status})",
                                    hint="retried later with backoff")
        raise VendorAnswerInvalid(self.vendor, f"{what}: the vendor refused the request (HTTP {status})",
                                  hint="retried later; if it persists the vendor's API changed")

    def json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """Send, check the status, parse the body as JSON."""
        response, body = self.send(method, path, **kwargs)
        self.check(response, what)
        return parse_json(self.vendor, body, what)


def parse_json(vendor: str, body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise VendorAnswerInvalid(vendor, f"{what}: the answer is not JSON",
                                  hint="retried later with backoff") from None


def shape_error(vendor: str, what: str, expected: str) -> VendorAnswerInvalid:
    return VendorAnswerInvalid(vendor, f"{what}: the answer is not the documented shape ({expected})",
                               hint="retried later; if it persists the vendor's API changed")


class ProviderBase:
    """What every provider shares: its caller, ``matches`` by manufacturer, closing (also as a context manager)."""

    vendor: str
    caller: VendorCaller

    def matches(self, manufacturer: str) -> bool:
        return vendor_of(manufacturer) == self.vendor

    def close(self) -> None:
        self.caller.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
