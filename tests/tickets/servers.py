"""Loopback stand-ins for a webhook receiver, ConnectWise Manage and HaloPSA.

The ConnectWise stand-in lives in ``controller/demo/fake_psa.py`` (``fleetward demo`` sends its
ticket there) and is re-exported here, so the tests and the demo share one faithful copy.

Each checks requests the way the real system would and refuses what it would refuse: the
receiver verifies the HMAC signature and the timestamp's age; ConnectWise wants Basic
``company+public:private`` and a ``clientId`` header, a summary of at most 100 characters and a
board, company, priority and status that exist (400 ``InvalidObject`` otherwise); Halo wants a
token from its token endpoint (form, client credentials, scope) and JSON *arrays* on POST.

``script`` (from the warranty fakes' base) queues failures for the next API answers;
``lose_answers`` makes the next creates happen but answer too late for the client, which is what
a lost response looks like. Servers stop when their context exits and by themselves after a
lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from controller.demo.fake_psa import CW_PREFIX, LATE, FakeConnectWise, FakePsaServer, invalid
from controller.demo.fake_warranty import Scripted, SeenRequest, json_reply

__all__ = ["CW_PREFIX", "LATE", "FakeConnectWise", "FakeHalo", "FakePsaServer", "FakeWebhookReceiver", "invalid",
           "ticket_payload"]


class FakeWebhookReceiver(FakePsaServer):
    """A receiver as its docs would tell an MSP to write one: verify, dedupe by key, answer an id."""

    MAX_SKEW = 300

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.events: dict[str, dict[str, Any]] = {}
        """Accepted events by Idempotency-Key (a repeated key is not processed twice)."""
        self.answers: dict[str, dict[str, str]] = {}

    def answer(self, request: SeenRequest) -> Scripted:
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        timestamp = request.headers.get("x-fleetward-timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + request.body,
                                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-fleetward-signature", "")):
            return json_reply(401, {"error": "bad_signature"})
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.MAX_SKEW:
            return json_reply(401, {"error": "stale_timestamp"})
        event = json.loads(request.body)
        key = request.headers.get("idempotency-key", "")
        if not key or event.get("idempotency_key") != key:
            return json_reply(400, {"error": "idempotency_key_mismatch"})
        with self.lock:
            if key not in self.events:
                self.events[key] = event
                self.answers[key] = {"id": f"WH-{next(self._ids)}", "url": f"https://tickets.example/{key}"}
            reply = self.answers[key]
        return self.late(json_reply(200, reply))


class FakeHalo(FakePsaServer):
    """HaloPSA's token endpoint and its Tickets and Actions API, over a dict of tickets."""

    def __init__(self, *, client_id: str, client_secret: str, expires_in: int = 3600) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.clients = {12, 34}
        self.tickettypes = {1, 21}
        self.priorities = {1, 2, 3, 4}
        self.closed_statuses = {9}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.actions: dict[int, list[dict[str, Any]]] = {}

    @property
    def auth_url(self) -> str:
        return self.base_url + "/auth"

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def answer(self, request: SeenRequest) -> Scripted:
        if request.path == "/auth/token":
            return self._token(request)
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header.removeprefix("Bearer ") not in self.tokens:
            return Scripted(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        if request.path == "/api/Tickets" and request.method == "GET":
            return self._search(request)
        if request.path in ("/api/Tickets", "/api/Actions") and request.method == "POST":
            items = json.loads(request.body)
            if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
                return json_reply(400, {"error": "ValidationError", "message": "an array of objects is expected"})
            return self._post_ticket(items[0]) if request.path == "/api/Tickets" else self._action(items[0])
        match = re.fullmatch(r"/api/Tickets/(\d+)", request.path)
        if match and request.method == "GET" and int(match[1]) in self.tickets:
            return json_reply(200, self.tickets[int(match[1])])
        return json_reply(404, {"error": "NotFound", "message": "not found"})

    def _token(self, request: SeenRequest) -> Scripted:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return json_reply(400, {"error": "invalid_request"})
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials" or form.get("scope") != "all":
            return json_reply(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return json_reply(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
            self.tokens_issued += 1
        return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in,
                                "scope": "all"})

    def _search(self, request: SeenRequest) -> Scripted:
        text = request.query.get("search", [""])[0].lower()
        details = request.query.get("includedetails", ["false"])[0] == "true"
        hits = [t for t in self.tickets.values()
                if text and (text in t["summary"].lower() or text in t["details"].lower())]
        shown = [t if details else {k: v for k, v in t.items() if k != "details"} for t in hits]
        return json_reply(200, {"page_no": 1, "page_size": 10, "record_count": len(hits), "tickets": shown})

    def _post_ticket(self, item: dict[str, Any]) -> Scripted:
        if "id" in item:
            ticket = self.tickets.get(item["id"])
            if ticket is None:
                return json_reply(404, {"error": "NotFound", "message": "ticket not found"})
            if "status_id" in item:
                ticket["status_id"] = item["status_id"]
                ticket["hasbeenclosed"] = item["status_id"] in self.closed_statuses
            return json_reply(201, ticket)
        if not isinstance(item.get("summary"), str) or not item["summary"]:
            return json_reply(400, {"error": "ValidationError", "message": "summary is required"})
        if item.get("client_id") not in self.clients or item.get("tickettype_id") not in self.tickettypes \
                or item.get("priority_id") not in self.priorities:
            return json_reply(400, {"error": "ValidationError", "message": "unknown client, type or priority"})
        with self.lock:
            ticket_id = next(self._ids)
            ticket = {**item, "id": ticket_id, "status_id": 1, "hasbeenclosed": False}
            self.tickets[ticket_id] = ticket
            self.actions[ticket_id] = []
        return self.late(json_reply(201, ticket))

    def _action(self, item: dict[str, Any]) -> Scripted:
        if item.get("ticket_id") not in self.tickets or not item.get("note"):
            return json_reply(400, {"error": "ValidationError", "message": "ticket_id and note are required"})
        self.actions[item["ticket_id"]].append(item)
        return json_reply(201, {**item, "id": len(self.actions[item["ticket_id"]])})

    def close_in_psa(self, ticket_id: str, status_id: int = 9, *, agent_id: int = 7,
                     agent_name: str = "Jane Doe") -> None:
        """What an agent closing the ticket in Halo does: status, hasbeenclosed, the agent on it."""
        with self.lock:
            ticket = self.tickets[int(ticket_id)]
            ticket.update(status_id=status_id, hasbeenclosed=status_id in self.closed_statuses, agent_id=agent_id,
                          agent_name=agent_name)


def ticket_payload(key: str = "fw-ticket-41", **changes: Any) -> Any:
    """A payload as the outbox would build it for a disk alert on an ACME laptop."""
    from controller.tickets.connectors import TicketPayload

    fields: dict[str, Any] = {
        "idempotency_key": key, "title": "Disk C: almost full on ACME-LT-017", "priority": "high",
        "body": "Free space on C: is 3% (threshold 10%).", "client": "acme", "hostname": "ACME-LT-017",
        "alert_type": "disk_space", "severity": "warning", "board": None, "assignee": None, "company_id": None,
    }
    fields.update(changes)
    return TicketPayload(**fields)
