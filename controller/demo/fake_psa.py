"""The demo's stand-in for ConnectWise Manage, on loopback only; the ticket tests use it too.

``fleetward demo`` routes a real disk-space alert's ticket to a ConnectWise connector and must not
reach the internet, so this server answers as ConnectWise documents its REST API 3.0 instead:
Basic ``company+public:private`` and a ``clientId`` header on every call (401 otherwise),
``POST /service/tickets`` with a summary of at most 100 characters and a board, company and
priority that exist (400 ``InvalidObject`` otherwise), notes, a JSON Patch on ``status``, searches
by ``externalXRef`` and by ``id in (...)`` with ``fields``, and ``GET /service/tickets/{id}``.
The connector tests in ``tests/tickets`` check the connector against it, so it must stay faithful
to the vendor's API, not to the demo.

:class:`FakePsaServer` adds PATCH and "lost answers" (a create that happens but answers too late
for the client) to the warranty fakes' base; ``script`` queues failures. Servers stop when their
context exits and by themselves after ``max_lifetime`` seconds.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from controller.demo.fake_warranty import FakeVendorServer, Scripted, SeenRequest, basic_credentials, json_reply

LATE = 3.0
"""Seconds a 'lost' answer is held back; tests use client timeouts well below this."""


class FakePsaServer(FakeVendorServer):
    """FakeVendorServer plus PATCH and lost answers."""

    def __init__(self, *, max_lifetime: float = 120.0) -> None:
        super().__init__(max_lifetime=max_lifetime)
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



CW_PREFIX = "/v4_6_release/apis/3.0"


class FakeConnectWise(FakePsaServer):
    """ConnectWise Manage's service tickets API, as documented, over a dict of tickets."""

    def __init__(self, *, company_id: str, public_key: str, private_key: str, client_id: str,
                 max_lifetime: float = 120.0) -> None:
        super().__init__(max_lifetime=max_lifetime)
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
