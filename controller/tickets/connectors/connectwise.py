"""ConnectWise Manage (PSA) connector, REST API 3.0.

Requests as ConnectWise documents them: base URL ``https://<site>/v4_6_release/apis/3.0``, Basic
auth with ``<companyId>+<publicKey>`` and the private key, and the ``clientId`` header every
integration must send. ``POST /service/tickets`` opens a ticket (summary at most 100 characters,
board by name, company by identifier, priority by name, initialDescription),
``POST /service/tickets/{id}/notes`` adds an internal note, a JSON Patch on ``status`` resolves,
and ``GET /service/tickets/{id}`` reads the state. Polling reads many tickets in one
``GET /service/tickets?conditions=id in (1,2,3)&fields=id,status/name,closedFlag,closedBy``.

Idempotency: ConnectWise has no idempotency header, so the key is stored in the ticket's
``externalXRef`` field (documented for references to other systems, 100 characters, shown to
technicians as "External Reference") and every create first asks
``GET /service/tickets?conditions=externalXRef="<key>"``. A create whose answer was lost is
therefore found on the retry instead of duplicated. The field was chosen over the summary (which
technicians edit, and which the key would crowd out of its 100 characters) and over a custom field
(which each MSP would have to create first). The key's alphabet (``base.py``) has no quote, so it
cannot break out of the condition string. The only window left is two creates racing within one
request, which the outbox rules out by sending one ticket's messages in order.

State: the status named ``resolved_status`` is "resolved", any other status with ``closedFlag``
(or named in ``closed_statuses``) is "closed", the rest "open".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from controller.tickets.connectors.base import (
    ExternalTicket,
    Priority,
    RemoteTicket,
    TicketPayload,
    TicketState,
    check_note,
)
from controller.tickets.connectors.calling import (
    DEFAULT_TIMEOUT,
    Caller,
    check_base_url,
    checked_ticket_id,
    numeric_ticket_id,
    shape_error,
)
from controller.tickets.connectors.errors import ConnectorSetupError

NAME = "connectwise"
_ticket_id = functools.partial(numeric_ticket_id, NAME)
_checked_id = functools.partial(checked_ticket_id, NAME, "ConnectWise")
MAX_SUMMARY = 100
MAX_BATCH = 100
"""Ids per polling request: a short condition string, one page of answers."""
DEFAULT_PRIORITIES: dict[Priority, str] = {
    "critical": "Priority 1 - Emergency Response",
    "high": "Priority 2 - Quick Response",
    "medium": "Priority 3 - Normal Response",
    "low": "Priority 4 - Schedule Maintenance",
}
HINTS = {
    401: "ConnectWise refused the API keys: check the company id, public key and private key (an API "
         "member's keys) and the clientId from developer.connectwise.com",
    403: "the API member may not do this: give its security role Service Desk > Service Tickets "
         "(add, edit, inquire) for all boards used",
    400: "ConnectWise refused the ticket: check that the board, company identifier, priority and status "
         "names in the connector's settings exist",
    404: "the ticket is not in ConnectWise (deleted or merged?) or the base URL is wrong",
    0: "ConnectWise refused the request: check the connector's settings",
}


class ConnectWiseConnector:
    name = NAME
    max_batch = MAX_BATCH

    def __init__(self, base_url: str, *, company_id: str, public_key: str, private_key: str, client_id: str,
                 default_board: str, default_company: str | None = None,
                 priorities: Mapping[Priority, str] | None = None, resolved_status: str = "Resolved",
                 closed_statuses: Iterable[str] = (), transport: httpx.BaseTransport | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = check_base_url(NAME, base_url, "baseUrl")
        self.default_board = default_board
        self.default_company = default_company
        self.priorities = {**DEFAULT_PRIORITIES, **(priorities or {})}
        self.resolved_status = resolved_status
        self.closed_statuses = frozenset(name.casefold() for name in closed_statuses)
        self._auth = (f"{company_id}+{public_key}", private_key)
        self._caller = Caller(NAME, self.base_url, hints=HINTS, transport=transport, timeout=timeout,
                              headers={"clientId": client_id})
        parts = urlsplit(self.base_url)
        self._site = f"{parts.scheme}://{parts.netloc}"

    def close(self) -> None:
        self._caller.close()

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        return self._caller.json(method, self.base_url + path, what, auth=self._auth, **kwargs)

    def _url(self, ticket_id: str) -> str:
        return f"{self._site}/v4_6_release/services/system_io/Service/fv_sr100_request.rdl?service_recid={ticket_id}"

    def find(self, key: str) -> ExternalTicket | None:
        """The ticket an earlier create with this idempotency key opened, if any."""
        found = self._call("GET", "/service/tickets", "search by externalXRef",
                           params={"conditions": f'externalXRef="{key}"', "fields": "id,externalXRef",
                                   "pageSize": "2"})
        if not isinstance(found, list):
            raise shape_error(NAME, "search by externalXRef", "a JSON array of tickets")
        for ticket in found:
            if isinstance(ticket, dict) and ticket.get("externalXRef") == key:
                return ExternalTicket(_ticket_id(ticket, "search by externalXRef"),
                                      self._url(str(ticket["id"])))
        return None

    def create(self, payload: TicketPayload) -> ExternalTicket:
        existing = self.find(payload.idempotency_key)
        if existing is not None:
            return existing
        company = payload.company_id or self.default_company
        if not company:
            raise ConnectorSetupError(NAME, f"client {payload.client!r} has no ConnectWise company identifier",
                                      hint="set the client's PSA company id, or the connector's default company")
        summary = payload.title if len(payload.title) <= MAX_SUMMARY else payload.title[:MAX_SUMMARY - 1] + "…"
        ticket: dict[str, Any] = {
            "summary": summary,
            "board": {"name": payload.board or self.default_board},
            "company": {"identifier": company},
            "priority": {"name": self.priorities[payload.priority]},
            "initialDescription": f"{payload.body}\n\nDevice: {payload.hostname}\nAlert: {payload.alert_type} "
                                  f"({payload.severity})\nFleetward ticket: {payload.idempotency_key}",
            "externalXRef": payload.idempotency_key,
        }
        if payload.assignee:
            ticket["owner"] = {"identifier": payload.assignee}
        created = self._call("POST", "/service/tickets", "create ticket", json=ticket)
        ticket_id = _ticket_id(created, "create ticket")
        return ExternalTicket(ticket_id, self._url(ticket_id))

    def add_note(self, external_id: str, text: str) -> None:
        self._note(_checked_id(external_id), check_note(text), resolution=False)

    def _note(self, ticket_id: str, text: str, *, resolution: bool) -> None:
        note = {"text": text, "detailDescriptionFlag": False, "internalAnalysisFlag": True,
                "resolutionFlag": resolution}
        self._call("POST", f"/service/tickets/{ticket_id}/notes", "add note", json=note)

    def resolve(self, external_id: str, note: str) -> None:
        ticket_id = _checked_id(external_id)
        self._note(ticket_id, check_note(note), resolution=True)
        patch = [{"op": "replace", "path": "status", "value": {"name": self.resolved_status}}]
        self._call("PATCH", f"/service/tickets/{ticket_id}", "resolve ticket", json=patch)

    def fetch_state(self, external_id: str) -> TicketState | None:
        ticket = self._call("GET", f"/service/tickets/{_checked_id(external_id)}", "fetch ticket")
        return self._remote(ticket, "fetch ticket").state

    def fetch_states(self, external_ids: Sequence[str]) -> dict[str, RemoteTicket]:
        ids = [_checked_id(external_id) for external_id in external_ids[:MAX_BATCH]]
        if not ids:
            return {}
        found = self._call("GET", "/service/tickets", "poll tickets",
                           params={"conditions": f"id in ({','.join(ids)})",
                                   "fields": "id,status/name,closedFlag,closedBy", "pageSize": str(len(ids))})
        if not isinstance(found, list):
            raise shape_error(NAME, "poll tickets", "a JSON array of tickets")
        remote = (self._remote(ticket, "poll tickets") for ticket in found)
        return {ticket.id: ticket for ticket in remote if ticket.id in ids}

    def _remote(self, ticket: Any, what: str) -> RemoteTicket:
        status = ticket.get("status") if isinstance(ticket, dict) else None
        if not isinstance(status, dict) or not isinstance(status.get("name"), str):
            raise shape_error(NAME, what, "a ticket with status.name")
        assert isinstance(ticket, dict)
        ticket_id = _ticket_id(ticket, what)
        name = status["name"][:100]
        state: TicketState = "open"
        if name.casefold() == self.resolved_status.casefold():
            state = "resolved"
        elif ticket.get("closedFlag") is True or name.casefold() in self.closed_statuses:
            state = "closed"
        closed_by = ticket.get("closedBy")
        return RemoteTicket(ticket_id, state, name,
                            closed_by[:100] if isinstance(closed_by, str) and closed_by else None)
