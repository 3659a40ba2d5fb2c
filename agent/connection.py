"""The agent's HTTP client for ``/api/agent/v1``: one method per endpoint.

Each call posts a ``schemas.protocol`` model as JSON (``GET /config`` sends no body)
and parses the answer into
the documented response model, so the wire contract lives in ``schemas`` and
nowhere else. What comes back is capped (``max_response_bytes``) before it is
parsed. Failures are mapped onto the agent's error tree, which is all the loop
needs to decide what to do next:

=====================  ==========================================================
no connection/timeout  ServerUnreachable (retry with backoff)
401                    CredentialRejected (stop; the agent must be enrolled again)
429, 503               ServerBusy, ``delay`` from Retry-After (seconds or HTTP date)
other 5xx              ServerUnreachable
413, other 4xx         ProtocolError with the controller's ``code`` and ``message``
a redirect, bad JSON   ProtocolError (the API never redirects)
=====================  ==========================================================

The credential travels only in the ``Authorization`` header and is never put
into an error message or a log line. TLS certificates are verified (httpx's
default); :mod:`agent.urls` decided beforehand whether plain http is allowed.
The transport is a parameter so an integration test can point the agent at an
in-process server without patching.
"""

from __future__ import annotations

import email.utils
import json
import math
from datetime import UTC, datetime
from types import TracebackType
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from agent.errors import CredentialRejected, ProtocolError, ServerBusy, ServerUnreachable
from agent.version import __version__
from schemas.inventory import AgentConfig as ControllerConfig
from schemas.jobs import WireModel
from schemas.limits import MAX_INVENTORY_BYTES, MAX_REQUEST_BYTES
from schemas.protocol import (
    AGENT_API_PREFIX,
    MAX_POLICY_RESULTS_BYTES,
    AlertAck,
    AlertReport,
    CheckinRequest,
    CheckinResponse,
    EnrollRequest,
    EnrollResponse,
    InventoryAck,
    InventoryReport,
    JobEvent,
    JobEventAck,
    LeaseRequest,
    LeaseResponse,
    PolicyResultAck,
    PolicyResultReport,
    SignedPolicyBundle,
)

Response = TypeVar("Response", bound=BaseModel)

USER_AGENT = f"fleetward-agent/{__version__}"
IDLE_CONNECTION_SECONDS = 5.0
"""The agent closes a connection idle this long; the controller keeps one open longer, so the
agent is always the side that closes (see ``controller.serving.KEEP_ALIVE_SECONDS``)."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


class ControllerConnection:
    """A session with one controller; use as a context manager so sockets are closed."""

    def __init__(
        self,
        server: str,
        *,
        credential: str | None = None,
        timeout_seconds: float = 30.0,
        max_response_bytes: int = 8 * 1024 * 1024,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if credential is not None:
            headers["Authorization"] = f"Bearer {credential}"
        self.server = server
        self._timeout = timeout_seconds
        self._max_response_bytes = max_response_bytes
        self._http = httpx.Client(
            base_url=server.rstrip("/") + AGENT_API_PREFIX,
            headers=headers,
            timeout=timeout_seconds,
            limits=httpx.Limits(keepalive_expiry=IDLE_CONNECTION_SECONDS),
            follow_redirects=False,
            transport=transport,
        )

    def __enter__(self) -> ControllerConnection:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- endpoints ---------------------------------------------------------------------------

    def enroll(self, request: EnrollRequest) -> EnrollResponse:
        return self._post("/enroll", request, EnrollResponse, expect=201)

    def checkin(self, request: CheckinRequest) -> CheckinResponse:
        return self._post("/checkin", request, CheckinResponse)

    def send_inventory(self, report: InventoryReport) -> InventoryAck:
        return self._post("/inventory", report, InventoryAck, max_request_bytes=MAX_INVENTORY_BYTES)

    def send_alerts(self, report: AlertReport) -> AlertAck:
        """Monitor alerts raised or cleared; the answer names the ids the controller stored."""
        return self._post("/alerts", report, AlertAck)

    def lease(self, request: LeaseRequest) -> LeaseResponse:
        # The server may hold a long-poll open for wait_seconds; the read timeout must outlast it.
        return self._post("/jobs/lease", request, LeaseResponse, extra_seconds=request.wait_seconds)

    def send_event(self, job_id: str, event: JobEvent) -> JobEventAck:
        return self._post(f"/jobs/{job_id}/events", event, JobEventAck)

    def get_config(self) -> ControllerConfig:
        """What the controller wants of this agent beyond jobs (discovery ranges, inventory schedule)."""
        return self._call("GET", "/config", None, ControllerConfig)

    def get_policies(self) -> SignedPolicyBundle:
        """This agent's signed policy bundle (verified by the caller before use)."""
        return self._call("GET", "/policies", None, SignedPolicyBundle)

    def send_policy_results(self, report: PolicyResultReport) -> PolicyResultAck:
        """Policy results; the answer names the ids stored (or stored before)."""
        return self._post("/policy-results", report, PolicyResultAck, max_request_bytes=MAX_POLICY_RESULTS_BYTES)

    # -- plumbing ----------------------------------------------------------------------------

    def _post(
        self,
        path: str,
        body: WireModel,
        response_model: type[Response],
        *,
        expect: int = 200,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        extra_seconds: float = 0.0,
    ) -> Response:
        return self._call("POST", path, body, response_model, expect=expect, max_request_bytes=max_request_bytes,
                          extra_seconds=extra_seconds)

    def _call(
        self,
        method: str,
        path: str,
        body: WireModel | None,
        response_model: type[Response],
        *,
        expect: int = 200,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        extra_seconds: float = 0.0,
    ) -> Response:
        payload = body.model_dump_json().encode() if body is not None else None
        if payload is not None and len(payload) > max_request_bytes:
            raise ProtocolError(
                f"{method} {path}: the request is {len(payload)} bytes, over the {max_request_bytes} cap",
                hint="this is a bug or an unusually large machine; report it with the agent's log",
            )
        url = self._http.base_url.join(path.lstrip("/"))
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            with self._http.stream(
                method, path, content=payload, headers=headers, timeout=self._timeout + extra_seconds,
            ) as response:
                raw = self._read_capped(response, f"{method} {path}")
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach the controller at {self.server} ({type(exc).__name__}: {exc})",
                hint="check the network, the --server URL and that the controller is running",
            ) from None
        self._raise_for_status(response, raw, f"{method} {path}", url)
        if response.status_code != expect:
            raise ProtocolError(f"{method} {path}: expected HTTP {expect}, got {response.status_code}",
                                status=response.status_code)
        try:
            return response_model.model_validate_json(raw)
        except ValidationError as exc:
            raise ProtocolError(
                f"{method} {path}: the controller's answer is not a valid {response_model.__name__} "
                f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']})",
                hint="the agent and controller versions may not match; upgrade the older one",
                status=response.status_code,
            ) from None

    def _read_capped(self, response: httpx.Response, request: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self._max_response_bytes:
            raise ProtocolError(f"{request}: the answer declares {declared} bytes, over the "
                                f"{self._max_response_bytes} cap", status=response.status_code)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_response_bytes:
                raise ProtocolError(f"{request}: the answer is over the {self._max_response_bytes} "
                                    "byte cap", status=response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    def _raise_for_status(self, response: httpx.Response, raw: bytes, request: str, url: httpx.URL) -> None:
        status = response.status_code
        if status < 300:
            return
        code, message = _error_body(raw)
        said = f": {message}" if message else ""
        if status == 401:
            raise CredentialRejected(
                f"the controller rejected this agent's credential{said}",
                hint="re-enrol: fleetward-agent enroll --force --server URL --token TOKEN --data-dir DIR",
            )
        if status in (429, 503):
            delay = parse_retry_after(response.headers.get("Retry-After")) or 0.0
            raise ServerBusy(f"the controller is busy (HTTP {status}){said}", delay=delay,
                             hint="the agent retries by itself")
        if status >= 500:
            raise ServerUnreachable(f"the controller failed (HTTP {status}){said}",
                                    hint="the agent retries by itself; check the controller's log")
        if 300 <= status < 400:
            raise ProtocolError(
                f"{request.split()[0]} {url} was redirected to {response.headers.get('Location', '?')!r}",
                hint="point --server at the controller's final URL (the agent API never redirects)",
                status=status,
            )
        if status == 413:
            raise ProtocolError(f"{request}: the controller says the request is too large{said}",
                                status=status, code=code or "body_too_large")
        raise ProtocolError(f"{request}: HTTP {status} {code or ''}{said}".rstrip(),
                            status=status, code=code)


def _error_body(raw: bytes) -> tuple[str, str]:
    """The ``code`` and ``message`` of an ErrorBody, tolerating anything else."""
    try:
        data = json.loads(raw[:64 * 1024])
    except ValueError:
        return "", raw[:200].decode("utf-8", "replace").strip()
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("code", ""))[:100], str(data.get("message", ""))[:500]
