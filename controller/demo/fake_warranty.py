"""The demo's stand-in for Dell's TechDirect warranty API, on loopback only.

``fleetward demo`` cannot ask Dell about made-up service tags, and must not reach the
internet; this server answers as Dell documents it instead, so the demo shows the whole
warranty path (token, batched lookup, cache, alerts) with nothing faked inside the
controller. The tests use it too, and check it the way Dell would: a wrong client id or
secret gets 401 at the token endpoint, a missing or unknown bearer token 401 at the API,
more than 100 tags or a tag that is not alphanumeric 400.

``script`` lets a test make the next API answers fail (429 with Retry-After, 500, a body
that is not JSON, a huge one, a slow one). The server stops when its context exits, and by
itself after ``max_lifetime`` seconds, so a forgotten one never outlives a test run.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

MAX_REQUEST_BODY = 1024 * 1024
DEFAULT_LIFETIME = 300.0


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: status, headers, body, and seconds to wait before answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that hung up (timeout and size-cap tests) is not the server's problem


class FakeVendorServer:
    """A threaded HTTP server on 127.0.0.1 at a free port; subclasses implement :meth:`answer`."""

    def __init__(self, *, max_lifetime: float = DEFAULT_LIFETIME) -> None:
        self.requests: list[SeenRequest] = []
        self.script: deque[Scripted] = deque()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_REQUEST_BODY)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = SeenRequest(self.command, parts.path, parse_qs(parts.query),
                                   {k.lower(): v for k, v in self.headers.items()}, body)
                with owner.lock:
                    owner.requests.append(seen)
                reply = owner.answer(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    return

            do_GET = _handle
            do_POST = _handle

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._timer = threading.Timer(max_lifetime, self.close)
        self._timer.daemon = True
        self._closed = False

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def scripted(self) -> Scripted | None:
        """The next scripted answer, if a test queued one."""
        with self.lock:
            return self.script.popleft() if self.script else None

    def answer(self, request: SeenRequest) -> Scripted:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        self._timer.start()
        return self

    def close(self) -> None:
        with self.lock:
            if self._closed:
                return
            self._closed = True
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
        self._thread.join(timeout=5)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Scripted:
    return Scripted(status, json.dumps(payload).encode(), dict(headers or {}))


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def dell_asset(service_tag: str, model: str, entitlements: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """An asset as Dell returns it; entitlements are (service level, start, end, type) with ISO dates."""
    return {
        "id": zlib.crc32(service_tag.encode()), "serviceTag": service_tag, "orderBuild": "1", "shipDate":
        (entitlements[0][1] + "T00:00:00Z") if entitlements else None, "productCode": "LAT",
        "localChannel": "ENTP", "productId": "latitude-14-5440-laptop", "productLineDescription": model,
        "productFamily": "Latitude", "systemDescription": model, "productLobDescription": "Latitude",
        "countryCode": "DE", "duplicated": False, "invalid": False,
        "entitlements": [{"itemNumber": f"{i:03d}-{service_tag}", "startDate": f"{start}T00:00:00.000001Z",
                          "endDate": f"{end}T23:59:59.000001Z", "entitlementType": kind,
                          "serviceLevelCode": level[:3].upper(), "serviceLevelDescription": level,
                          "serviceLevelGroup": 5}
                         for i, (level, start, end, kind) in enumerate(entitlements)],
    }


class FakeDellApi(FakeVendorServer):
    """Dell TechDirect's OAuth token endpoint and asset-entitlements API, for the demo and the tests."""

    TOKEN_PATH = "/auth/oauth/v2/token"  # noqa: S105 (a URL path, not a password)
    API_PATH = "/PROD/sbil/eapi/v5/asset-entitlements"
    MAX_TAGS = 100

    def __init__(self, client_id: str, client_secret: str, assets: dict[str, dict[str, Any]] | None = None, *,
                 token_lifetime: int = 3600, max_lifetime: float = DEFAULT_LIFETIME) -> None:
        super().__init__(max_lifetime=max_lifetime)
        self.client_id = client_id
        self.client_secret = client_secret
        self.assets = {tag.upper(): asset for tag, asset in (assets or {}).items()}
        self.token_lifetime = token_lifetime
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.on_api: Callable[[SeenRequest], None] | None = None

    def revoke_tokens(self) -> None:
        """Make every issued token invalid, as Dell does when one expires early."""
        with self.lock:
            self.tokens.clear()

    def api_calls(self) -> list[SeenRequest]:
        with self.lock:
            return [r for r in self.requests if r.path == self.API_PATH]

    def answer(self, request: SeenRequest) -> Scripted:
        if request.path == self.TOKEN_PATH:
            return self._token(request)
        if request.path == self.API_PATH:
            return self._entitlements(request)
        return json_reply(404, {"error": "not found"})

    def _token(self, request: SeenRequest) -> Scripted:
        if request.method != "POST":
            return json_reply(405, {"error": "method not allowed"})
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return json_reply(400, {"error": "invalid_request"})
        form = parse_qs(request.body.decode(errors="replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return json_reply(400, {"error": "unsupported_grant_type"})
        given = basic_credentials(request.headers.get("authorization", "")) or (
            (form.get("client_id") or [""])[0], (form.get("client_secret") or [""])[0])
        if given != (self.client_id, self.client_secret):
            return json_reply(401, {"error": "invalid_client", "error_description": "client authentication failed"})
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens.add(token)
            self.tokens_issued += 1
        return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime,
                                "scope": "oob"})

    def _entitlements(self, request: SeenRequest) -> Scripted:
        if request.method != "GET":
            return json_reply(405, {"error": "method not allowed"})
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            known = token in self.tokens
        if scheme.lower() != "bearer" or not known:
            return json_reply(401, {"error": "invalid_token"})
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        tags = [t for t in ",".join(request.query.get("servicetags", [])).split(",") if t]
        if not tags or len(tags) > self.MAX_TAGS or not all(t.isascii() and t.isalnum() for t in tags):
            return json_reply(400, {"error": "invalid servicetags"})
        if self.on_api is not None:
            self.on_api(request)
        answer = [self.assets.get(tag.upper()) or {"id": None, "serviceTag": tag.upper(), "invalid": True,
                                                   "duplicated": False, "entitlements": []}
                  for tag in tags]
        return json_reply(200, answer)
