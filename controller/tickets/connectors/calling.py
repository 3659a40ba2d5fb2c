"""One HTTP exchange with a PSA: bounded, timed out, and every failure turned into a ConnectorError.

Connectors describe *what* to send; this module decides what a failure means for the outbox:
down or slow (``ConnectorUnavailable``, retry with backoff), asked to slow down
(``ConnectorThrottled``, Retry-After honoured up to :data:`MAX_RETRY_AFTER`), refused the request
(``ConnectorRejected``, permanent, with the connector's hint for that status), or answered
something that is not the documented JSON (``ConnectorAnswerInvalid``, retry).

Bodies are read with a size cap and never quoted in messages or logs; of a refusal only the
vendor's short error code is kept. Requests are logged as method, path and status only: headers
carry the credentials and query strings are not needed to debug a refusal. The transport is a
parameter (httpx's ``BaseTransport``) and plain http is refused except to loopback.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from controller.outbound import DEFAULT_THROTTLE_DELAY, BodyTooLarge, read_capped, url_problem
from controller.outbound import retry_after as outbound_retry_after
from controller.tickets.connectors.errors import (
    ConnectorAnswerInvalid,
    ConnectorRejected,
    ConnectorSetupError,
    ConnectorThrottled,
    ConnectorUnavailable,
)

log = logging.getLogger("controller.tickets.connectors")

DEFAULT_TIMEOUT = 15.0
"""Seconds for connecting and for each read; a PSA slower than this is retried by the outbox."""
MAX_BODY_BYTES = 1024 * 1024
"""A single ticket, or a search page of a few tickets, is a few KiB."""
MAX_RETRY_AFTER = 3600.0
"""A PSA asking for more than an hour is asked again after an hour anyway."""
_VENDOR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,59}")


def check_base_url(connector: str, url: str, setting: str) -> str:
    """``url`` without a trailing slash; plain http only to a loopback address."""
    problem = url_problem(url)
    if problem == "not-http":
        raise ConnectorSetupError(connector, f"{setting} {url!r} is not an http(s) URL",
                                  hint=f"fix {setting} in the connector's settings")
    if problem == "plain-http":
        raise ConnectorSetupError(connector, f"{setting} uses plain http to a remote host; credentials and "
                                             "ticket contents would cross the network unencrypted",
                                  hint=f"use https in {setting}")
    return url.rstrip("/")


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header, capped at :data:`MAX_RETRY_AFTER`; None when absent."""
    return outbound_retry_after(response, MAX_RETRY_AFTER)


def vendor_code(body: bytes) -> str | None:
    """The vendor's short error code (``{"code": "InvalidObject"}``), if it is a plain identifier."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    code = data.get("code") or data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) and _VENDOR_CODE.fullmatch(code) else None


class Caller:
    """One connector's HTTP client: a base URL, a transport, limits. Thread-safe like httpx.Client."""

    def __init__(self, connector: str, base_url: str, *, hints: Mapping[int, str],
                 transport: httpx.BaseTransport | None = None, timeout: float = DEFAULT_TIMEOUT,
                 max_body: int = MAX_BODY_BYTES, headers: Mapping[str, str] | None = None) -> None:
        self.connector = connector
        self.base_url = base_url
        self.hints = dict(hints)
        self.max_body = max_body
        self._client = httpx.Client(transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False,
                                    trust_env=False, headers={"Accept": "application/json",
                                                              "User-Agent": "fleetward-tickets", **(headers or {})})

    def close(self) -> None:
        self._client.close()

    def send(self, method: str, url: str, what: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """The response and its body (at most ``max_body`` bytes); transport failures as ConnectorUnavailable."""
        path = urlsplit(url).path
        started = time.monotonic()
        try:
            response, body = read_capped(self._client, method, url, self.max_body, **kwargs)
        except BodyTooLarge:
            raise ConnectorAnswerInvalid(self.connector, f"{what}: the answer is larger than {self.max_body} bytes",
                                         hint="retried later; if it persists check the PSA's URL") from None
        except httpx.TimeoutException:
            log.warning("%s %s %s timed out", self.connector, method, path)
            raise ConnectorUnavailable(self.connector, f"{what}: {method} {path} timed out",
                                       hint="retried later with backoff") from None
        except httpx.TransportError as error:
            log.warning("%s %s %s failed: %s", self.connector, method, path, type(error).__name__)
            raise ConnectorUnavailable(self.connector, f"{what}: {method} {path} failed: {type(error).__name__}",
                                       hint="retried later with backoff; check the controller's outbound "
                                            "access to the PSA") from None
        log.info("%s %s %s -> %d in %.3fs", self.connector, method, path, response.status_code,
                 time.monotonic() - started)
        return response, body

    def check(self, response: httpx.Response, body: bytes, what: str) -> None:
        """Raise the connector error an unsuccessful status means."""
        status = response.status_code
        if 200 <= status < 300:
            return
        delay = retry_after(response)
        if status == 429 or (status == 503 and delay is not None):
            raise ConnectorThrottled(self.connector, f"{what}: rate limited (HTTP {status})",
                                     hint="tried again after the delay the PSA asked for",
                                     delay=delay if delay is not None else DEFAULT_THROTTLE_DELAY)
        if status >= 500:
            raise ConnectorUnavailable(self.connector, f"{what}: the PSA failed (HTTP {status})",
                                       hint="retried later with backoff")
        code = vendor_code(body)
        detail = f"HTTP {status}" + (f", {code}" if code else "")
        raise ConnectorRejected(self.connector, f"{what}: the PSA refused the request ({detail})",
                                hint=self.hints.get(status, self.hints.get(0, "fix the connector's settings")),
                                status=status)

    def json(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        """Send, check the status, parse the body as JSON (None for an empty body)."""
        response, body = self.send(method, url, what, **kwargs)
        self.check(response, body, what)
        if not body.strip():
            return None
        return parse_json(self.connector, body, what)


def parse_json(connector: str, body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ConnectorAnswerInvalid(connector, f"{what}: the answer is not JSON",
                                     hint="retried later; if it persists check the PSA's URL") from None


def shape_error(connector: str, what: str, expected: str) -> ConnectorAnswerInvalid:
    return ConnectorAnswerInvalid(connector, f"{what}: the answer is not the documented shape ({expected})",
                                  hint="retried later; if it persists the PSA's API changed")


def numeric_ticket_id(connector: str, ticket: Any, what: str) -> str:
    """The positive integer ``id`` of a PSA's ticket object, as text; the documented-shape error otherwise."""
    ticket_id = ticket.get("id") if isinstance(ticket, dict) else None
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int) or ticket_id <= 0:
        raise shape_error(connector, what, "a ticket with a numeric id")
    return str(ticket_id)


def checked_ticket_id(connector: str, product: str, external_id: str) -> str:
    """``external_id`` when it can be a numeric ticket id of ``product``; refused before anything is sent."""
    if not external_id.isdigit() or len(external_id) > 18:
        raise ConnectorRejected(connector, f"{external_id[:40]!r} is not a {product} ticket id",
                                hint="the ticket was not created by this connector; re-create it")
    return external_id
