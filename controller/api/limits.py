"""Caps request bodies before they are read into memory (413 with a JSON body).

A pure ASGI middleware: it checks Content-Length up front and counts streamed bytes
for chunked bodies, so no handler ever sees more than its route's cap.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.limits import MAX_INVENTORY_BYTES, MAX_REQUEST_BYTES
from schemas.protocol import MAX_POLICY_RESULTS_BYTES

MAX_SCRIPT_REQUEST_BYTES = 2 * 1024 * 1024
"""A script library entry carries the script itself (up to 256 KiB of text, JSON-escaped)."""
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
"""Push events list commits; large pushes make large bodies."""


def default_cap(path: str) -> int:
    if path.endswith("/inventory"):
        return MAX_INVENTORY_BYTES
    if path.endswith("/policy-results"):
        return MAX_POLICY_RESULTS_BYTES
    if path == "/api/scripts":
        return MAX_SCRIPT_REQUEST_BYTES
    if path.startswith("/api/hooks/"):
        return MAX_WEBHOOK_BYTES
    return MAX_REQUEST_BYTES


class _TooLarge(HTTPException):
    """An HTTPException, so frameworks that wrap body-read errors pass it through as a 413."""

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"request body is over the {cap} byte limit")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, cap_for: Callable[[str], int] = default_cap) -> None:
        self.app = app
        self.cap_for = cap_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = cap + 1
                if declared > cap:
                    await _reject(send, cap)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise _TooLarge(cap)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reject(send, cap)


async def _reject(send: Send, cap: int) -> None:
    body = json.dumps({"code": "body_too_large",
                       "message": f"request body is over the {cap} byte limit"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
