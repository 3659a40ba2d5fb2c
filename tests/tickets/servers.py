"""Loopback stand-ins for a webhook receiver, ConnectWise Manage and HaloPSA.

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
import itertools
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from controller.demo.fake_warranty import FakeVendorServer, Scripted, SeenRequest, basic_credentials, json_reply

LATE = 3.0
"""Seconds a 'lost' answer is held back; tests use client timeouts well below this."""


class FakePsaServer(FakeVendorServer):
    """FakeVendorServer plus PATCH and lost answers."""

    def __init__(self) -> None:
        super().__init__(max_lifetime=120.0)
        handler = self._server.RequestHandlerClass
        handler.do_PATCH = handler.do_POST  # type: ignore[attr-defined]
        self.lose_answers = 0
        self._ids = itertools.count(1001)

    def late(self, reply: Scripted) -> Scripted:
        with self.lock:
            if self.lose_answers <= 0:
                return reply
            self.lose_answers -= 1
        return Scripted(reply.status, reply.body, reply.headers, delay=LATE)


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


CW_PREFIX = "/v4_6_release/apis/3.0"


class FakeConnectWise(FakePsaServer):
    """ConnectWise Manage's service tickets API, as documented, over a dict of tickets."""

    def __init__(self, *, company_id: str, public_key: str, private_key: str, client_id: str) -> None:
        super().__init__()
        self.credentials = (f"{company_id}+{public_key}", private_key)
        self.client_id = client_id
        self.boards = {"Alerts": ["New", "In Progress", "Resolved", "Closed"]}
        self.companies = {"ACME", "GLOBEX"}
        self.priorities = {"Priority 1 - Emergency Response", "Priority 2 - Quick Response",
                           "Priority 3 - Normal Response", "Priority 4 - Schedule Maintenance"}
        self.closed_statuses = {"Resolved", "Closed"}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}

    @property
    def api_url(self) -> str:
        return self.base_url + CW_PREFIX

    def answer(self, request: SeenRequest) -> Scripted:
        if basic_credentials(request.headers.get("authorization", "")) != self.credentials:
            return json_reply(401, {"code": "Unauthorized", "message": "Authentication failed."})
        if request.headers.get("clientid") != self.client_id:
            return json_reply(401, {"code": "Unauthorized", "message": "clientId header is required"})
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        path = request.path.removeprefix(CW_PREFIX)
        if path == "/service/tickets" and request.method == "GET":
            return self._search(request)
        if path == "/service/tickets" and request.method == "POST":
            return self._create(json.loads(request.body))
        match = re.fullmatch(r"/service/tickets/(\d+)(/notes)?", path)
        if not match or int(match[1]) not in self.tickets:
            return json_reply(404, {"code": "NotFound", "message": "Ticket not found"})
        ticket = self.tickets[int(match[1])]
        if match[2] and request.method == "POST":
            note = json.loads(request.body)
            if not isinstance(note.get("text"), str) or not note["text"]:
                return invalid("text", "text is required")
            self.notes[ticket["id"]].append(note)
            return json_reply(201, {"id": len(self.notes[ticket["id"]]), "ticketId": ticket["id"], **note})
        if request.method == "PATCH":
            return self._patch(ticket, json.loads(request.body))
        if request.method == "GET" and not match[2]:
            return json_reply(200, ticket)
        return json_reply(405, {"code": "MethodNotAllowed", "message": "not allowed"})

    def _search(self, request: SeenRequest) -> Scripted:
        conditions = request.query.get("conditions", [""])[0]
        if conditions.startswith("id in"):
            return self._poll(request, conditions)
        match = re.fullmatch(r'externalXRef\s*=\s*"([^"]*)"', conditions)
        if not match:
            return json_reply(400, {"code": "InvalidCondition", "message": "conditions not understood"})
        hits = [t for t in self.tickets.values() if t.get("externalXRef") == match[1]]
        fields = request.query.get("fields", [""])[0].split(",")
        return json_reply(200, [{k: t[k] for k in fields if k in t} if fields != [""] else t for t in hits])

    def _create(self, body: dict[str, Any]) -> Scripted:
        summary = body.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 100:
            return invalid("summary", "summary is required and may be at most 100 characters")
        board = body.get("board", {}).get("name")
        if board not in self.boards:
            return invalid("board", f"board {board!r} not found")
        if body.get("company", {}).get("identifier") not in self.companies:
            return invalid("company", "company not found")
        if body.get("priority", {}).get("name") not in self.priorities:
            return invalid("priority", "priority not found")
        xref = body.get("externalXRef")
        if xref is not None and (not isinstance(xref, str) or len(xref) > 100):
            return invalid("externalXRef", "externalXRef may be at most 100 characters")
        with self.lock:
            ticket_id = next(self._ids)
            ticket = {**body, "id": ticket_id, "status": {"id": 1, "name": self.boards[board][0]},
                      "closedFlag": False}
            self.tickets[ticket_id] = ticket
            self.notes[ticket_id] = []
        return self.late(json_reply(201, ticket))

    def _patch(self, ticket: dict[str, Any], operations: Any) -> Scripted:
        if not isinstance(operations, list):
            return json_reply(400, {"code": "InvalidObject", "message": "a JSON Patch array is required"})
        for op in operations:
            if op.get("op") != "replace" or op.get("path") != "status":
                return invalid(str(op.get("path")), "only status may be replaced here")
            name = op.get("value", {}).get("name")
            if name not in self.boards[ticket["board"]["name"]]:
                return invalid("status", f"status {name!r} not found on the board")
            ticket["status"] = {"id": 2, "name": name}
            ticket["closedFlag"] = name in self.closed_statuses
        return json_reply(200, ticket)

    # Polling: tickets by id, fields picked by path (``status/name``), closed "in the PSA" by a test.

    def _poll(self, request: SeenRequest, conditions: str) -> Scripted:
        match = re.fullmatch(r"id in \((\d+(?:,\d+)*)\)", conditions)
        if not match:
            return json_reply(400, {"code": "InvalidCondition", "message": "conditions not understood"})
        size = int(request.query.get("pageSize", ["25"])[0])  # ConnectWise's default page is 25
        if not 1 <= size <= 1000:
            return json_reply(400, {"code": "InvalidPageSize", "message": "pageSize must be 1-1000"})
        wanted = [int(part) for part in match[1].split(",")]
        hits = [self.tickets[ticket_id] for ticket_id in sorted(set(wanted)) if ticket_id in self.tickets][:size]
        fields = [f for f in request.query.get("fields", [""])[0].split(",") if f]
        return json_reply(200, [_pick(ticket, fields) if fields else ticket for ticket in hits])

    def close_in_psa(self, ticket_id: str, status: str = "Closed", *, by: str = "jdoe") -> None:
        """What a technician closing the ticket on the board does: status, closedFlag, closedBy."""
        with self.lock:
            ticket = self.tickets[int(ticket_id)]
            ticket["status"] = {"id": 9, "name": status}
            ticket["closedFlag"] = status in self.closed_statuses
            ticket["closedBy"] = by


def _pick(ticket: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """ConnectWise's ``fields``: only the named paths, nested objects kept as objects."""
    picked: dict[str, Any] = {}
    for path in fields:
        source, target = ticket, picked
        *parents, leaf = path.split("/")
        for part in parents:
            source = source.get(part, {}) if isinstance(source, dict) else {}
            target = target.setdefault(part, {})
        if isinstance(source, dict) and leaf in source:
            target[leaf] = source[leaf]
    return picked


def invalid(field: str, message: str) -> Scripted:
    return json_reply(400, {"code": "InvalidObject", "message": "Ticket object is invalid",
                            "errors": [{"code": "InvalidField", "message": message, "resource": "ticket",
                                        "field": field}]})


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
