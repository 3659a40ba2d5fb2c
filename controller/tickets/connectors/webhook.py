"""The generic webhook connector: signed JSON events POSTed to a URL the MSP runs.

For MSPs whose PSA Fleetward has no connector for (or who route tickets through their own
automation). Three events, each one POST of a JSON object::

    {"event": "ticket.created",  "idempotency_key": "...", "ticket": {...payload...}}
    {"event": "ticket.note",     "idempotency_key": "...", "external_id": "...", "note": "..."}
    {"event": "ticket.resolved", "idempotency_key": "...", "external_id": "...", "note": "..."}

Headers: ``Idempotency-Key`` (the same as in the body), ``X-Fleetward-Event``,
``X-Fleetward-Timestamp`` (Unix seconds) and ``X-Fleetward-Signature: sha256=<hex>``, the
HMAC-SHA256 with the shared secret of ``<timestamp>.<raw body>``. Signing the timestamp with the
body lets a receiver refuse replays: it recomputes the HMAC and rejects a timestamp older than a
few minutes (see :func:`signature`, which receivers written in Python may import).

Idempotency is the receiver's job: the outbox may deliver an event again after a lost response,
with the same key. A created ticket's external id is the ``id`` the receiver answers with
(``{"id": "...", "url": "..."}``), or the idempotency key when it answers anything else, so a
receiver that only forwards events still works. ``fetch_state`` returns None: a webhook has no
way to be asked, so tickets routed here are closed only from Fleetward's side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import httpx

from controller.tickets.connectors.base import ExternalTicket, TicketPayload, TicketState, check_note
from controller.tickets.connectors.calling import DEFAULT_TIMEOUT, Caller, check_base_url, parse_json

HINTS = {
    401: "the receiver refused the signature: make its shared secret match the connector's secret",
    403: "the receiver refused the signature: make its shared secret match the connector's secret",
    404: "the webhook URL does not exist: fix the connector's url",
    0: "the receiver refused the event: check its logs for what it expects",
}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Fleetward-Signature`` value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookConnector:
    name = "webhook"

    def __init__(self, url: str, secret: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = DEFAULT_TIMEOUT, clock: Callable[[], float] = time.time) -> None:
        self.url = check_base_url(self.name, url, "url")
        self._secret = secret
        self._clock = clock
        self._caller = Caller(self.name, self.url, hints=HINTS, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._caller.close()

    def _post(self, event: str, key: str, fields: dict[str, Any]) -> tuple[httpx.Response, bytes]:
        body = json.dumps({"event": event, "idempotency_key": key, **fields}, separators=(",", ":")).encode()
        timestamp = str(int(self._clock()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, "X-Fleetward-Event": event,
                   "X-Fleetward-Timestamp": timestamp,
                   "X-Fleetward-Signature": signature(self._secret, timestamp, body)}
        response, answer = self._caller.send("POST", self.url, event, content=body, headers=headers)
        self._caller.check(response, answer, event)
        return response, answer

    def create(self, payload: TicketPayload) -> ExternalTicket:
        response, answer = self._post("ticket.created", payload.idempotency_key, {"ticket": asdict(payload)})
        if "json" not in response.headers.get("content-type", "") or not answer.strip():
            return ExternalTicket(payload.idempotency_key)
        data = parse_json(self.name, answer, "ticket.created")
        ticket_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(ticket_id, bool) or not isinstance(ticket_id, str | int) or not str(ticket_id):
            return ExternalTicket(payload.idempotency_key)
        url = data.get("url")
        return ExternalTicket(str(ticket_id), url if isinstance(url, str) and len(url) <= 2000 else None)

    def add_note(self, external_id: str, text: str) -> None:
        self._post("ticket.note", _event_key("ticket.note", external_id, check_note(text)),
                   {"external_id": external_id, "note": text})

    def resolve(self, external_id: str, note: str) -> None:
        self._post("ticket.resolved", _event_key("ticket.resolved", external_id, check_note(note)),
                   {"external_id": external_id, "note": note})

    def fetch_state(self, external_id: str) -> TicketState | None:
        return None


def _event_key(event: str, external_id: str, text: str) -> str:
    """A stable key for a note or resolution: the same event sent again carries the same key."""
    return event + "-" + hashlib.sha256(f"{external_id}\0{text}".encode()).hexdigest()[:40]
