"""Loopback HTTP servers for the agent tests: an artifact host and a minimal controller stub.

Both bind 127.0.0.1 on a free port, serve from a daemon thread and are shut down
by their fixtures. The controller stub speaks the documented /api/agent/v1
endpoints with canned answers; it exists for what the real controller cannot
easily be made to do (401, 429 + Retry-After, 503, garbage) and to drive
``run --once`` until the controller team's end-to-end test runs the real one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.inventory import SECTIONS
from schemas.jobs import SignedJob
from schemas.protocol import AGENT_API_PREFIX, SigningKey


@dataclass
class Canned:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate_to: int | None = None
    """Announce the full Content-Length but send only this many bytes, then hang up."""
    ranges: bool = False
    """Answer ``Range: bytes=N-`` with 206 and the rest of the body (else Range is ignored: 200)."""


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_canned(self, canned: Canned) -> None:
        self.send_response(canned.status)
        headers = {"Content-Length": str(len(canned.body)), **canned.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        if canned.truncate_to is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        body = canned.body if canned.truncate_to is None else canned.body[: canned.truncate_to]
        self.wfile.write(body)
        self.wfile.flush()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], attach: Callable[[ThreadingHTTPServer], None]) \
        -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    attach(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class ArtifactServer:
    """GET /<path> answers from ``routes``; records every path requested (and its Range header)."""

    def __init__(self) -> None:
        self.routes: dict[str, Canned] = {}
        self.requested: list[str] = []
        self.ranges: list[str | None] = []
        self.base = ""

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def add(self, path: str, body: bytes, **options: Any) -> str:
        self.routes["/" + path.lstrip("/")] = Canned(body=body, **options)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes["/" + path.lstrip("/")] = Canned(status=status, headers={"Location": location})
        return self.url(path)

    @contextmanager
    def running(self) -> Iterator[ArtifactServer]:
        owner = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                owner.requested.append(self.path)
                asked = self.headers.get("Range")
                owner.ranges.append(asked)
                canned = owner.routes.get(self.path, Canned(status=404, body=b"not found"))
                if canned.ranges and asked and asked.startswith("bytes=") and asked.endswith("-"):
                    start = int(asked[len("bytes="):-1])
                    canned = Canned(status=206, body=canned.body[start:], truncate_to=canned.truncate_to,
                                    headers={**canned.headers, "Content-Range":
                                             f"bytes {start}-{len(canned.body) - 1}/{len(canned.body)}"})
                self.send_canned(canned)

        def attach(server: ThreadingHTTPServer) -> None:
            self.base = f"http://127.0.0.1:{server.server_address[1]}"

        with serving(Handler, attach):
            yield self


@dataclass
class StubController:
    """Just enough of /api/agent/v1 to exercise the agent; every request is recorded."""

    signing_keys: list[SigningKey]
    agent_id: str = "a_" + "1" * 32
    client: str = "acme"
    token: str = "enrol-token-1"
    credential: str = "cred-" + "s" * 40
    interval: int = 60
    inventory: str = "none"
    refuse_deltas: bool = False
    """Answer a software delta as a controller that does not hold its base section would."""
    jobs: list[SignedJob] = field(default_factory=list)
    config: dict[str, Any] | None = None
    """What GET /config answers (an AgentConfig document); its version goes out in every check-in."""
    overrides: dict[str, list[Canned]] = field(default_factory=dict)
    """Path (under the prefix) -> answers to give instead of the normal one, used up in order."""
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    """Every alert POSTed to /alerts, in order."""
    base: str = ""

    def calls(self, path: str) -> list[Any]:
        return [body for seen, _headers, body in self.requests if seen == path]

    def answer(self, path: str, headers: dict[str, str], body: Any) -> Canned:
        queued = self.overrides.get(path)
        if queued:
            return queued.pop(0)
        if path == "/enroll":
            if body.get("token") != self.token:
                return _json(401, {"code": "invalid_token", "message": "unknown or expired enrolment token"})
            return _json(201, {"agent_id": self.agent_id, "client": self.client,
                               "credential": self.credential,
                               "signing_keys": [key.model_dump() for key in self.signing_keys],
                               "checkin_interval_seconds": self.interval})
        if headers.get("authorization") != f"Bearer {self.credential}":
            return _json(401, {"code": "unauthorized", "message": "credential rejected"})
        if path == "/checkin":
            return _json(200, {"jobs_pending": bool(self.jobs), "inventory": self.inventory,
                               "checkin_interval_seconds": self.interval,
                               "server_time": datetime.now(UTC).isoformat(),
                               "config_version": self.config["version"] if self.config else ""})
        if path == "/config":
            if self.config is None:
                return _json(404, {"code": "not_found", "message": "no config for this agent"})
            return _json(200, self.config)
        if path == "/inventory":
            sections = [name for name in SECTIONS if body.get(name) is not None]
            if body.get("software_delta") is not None and not self.refuse_deltas:
                sections.append("software")
            return _json(200, {"accepted": sections})
        if path == "/alerts":
            self.alerts.extend(body["alerts"])
            return _json(200, {"stored": [alert["id"] for alert in body["alerts"]]})
        if path == "/jobs/lease":
            jobs = self.jobs[: body.get("max_jobs", 10)]
            return _json(200, {"jobs": [job.model_dump() for job in jobs],
                               "seq_high": max((job.seq for job in self.jobs), default=0)})
        if path.startswith("/jobs/") and path.endswith("/events"):
            job_id = path.split("/")[2]
            self.events.append((job_id, body))
            if body["status"] != "running":
                self.jobs = [job for job in self.jobs if job.job_id != job_id]
            return _json(200, {"job_id": job_id, "state": body["status"]})
        return _json(404, {"code": "not_found", "message": path})

    @contextmanager
    def running(self) -> Iterator[StubController]:
        owner = self
        lock = threading.Lock()

        class Handler(_Quiet):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                self.handle_call(json.loads(raw) if raw else None)

            def do_GET(self) -> None:
                self.handle_call(None)

            def handle_call(self, body: Any) -> None:
                path = self.path.removeprefix(AGENT_API_PREFIX)
                headers = {key.lower(): value for key, value in self.headers.items()}
                with lock:
                    owner.requests.append((path, headers, body))
                    canned = owner.answer(path, headers, body)
                self.send_canned(canned)

        def attach(server: ThreadingHTTPServer) -> None:
            self.base = f"http://127.0.0.1:{server.server_address[1]}"

        with serving(Handler, attach):
            yield self


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Canned:
    return Canned(status=status, body=json.dumps(data).encode(),
                  headers={"Content-Type": "application/json", **(headers or {})})


def error(status: int, code: str, message: str, **headers: str) -> Canned:
    return _json(status, {"code": code, "message": message}, headers)
