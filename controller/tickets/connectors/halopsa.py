"""HaloPSA connector: OAuth2 client credentials, tickets, actions.

Requests as Halo documents them: a token from ``{auth_url}/token`` (form ``grant_type=
client_credentials``, ``client_id``, ``client_secret``, ``scope=all``, plus ``tenant`` for hosted
instances that need it), then ``Authorization: Bearer`` on ``{base_url}/api/...``. Halo creates
and updates through the same call, ``POST /api/Tickets`` with a JSON *array* of tickets (an
``id`` makes it an update); notes are ``POST /api/Actions`` (also an array), and
``GET /api/Tickets/{id}`` reads a ticket. The token is cached until shortly before it expires and
fetched again once when the API answers 401 (revoked, or the instance restarted).

Idempotency: Halo has no idempotency header, so the key is written into the ticket's details as a
last line ``Fleetward ticket: <key>`` and every create first asks
``GET /api/Tickets?search=<key>&includedetails=true``. Halo's search is a free-text match, so a
hit counts only when its details carry that exact line: a retry after a lost answer returns the
ticket the first attempt made, and a ticket that merely mentions the key is not mistaken for it.
The details were chosen over a custom field, which each MSP would have to create and whose id
differs per instance.

Identifiers are Halo's numbers: ``company_id`` is the Halo client id, ``assignee`` an agent id,
``board`` a team name. State: ``resolved_status_id`` (default 9, "Closed") is "resolved", any
other ticket Halo flags ``hasbeenclosed`` (or whose status is in ``closed_status_ids``) is
"closed", the rest "open". Halo's ticket list filters by status, agent or client but not by a
list of ids, so polling reads ``GET /api/Tickets/{id}`` per ticket, a small batch per pass.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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
    parse_json,
    shape_error,
)
from controller.tickets.connectors.errors import ConnectorRejected, ConnectorSetupError

NAME = "halopsa"
_ticket_id = functools.partial(numeric_ticket_id, NAME)
_checked_id = functools.partial(checked_ticket_id, NAME, "HaloPSA")
TOKEN_MARGIN = 60.0
"""Seconds before its expiry a token is replaced, so none expires in flight."""
MAX_TOKEN_LIFETIME = 24 * 3600.0
MAX_BATCH = 25
"""Tickets read per polling call: one request each, so fewer than ConnectWise's batch."""
DEFAULT_PRIORITIES: dict[Priority, int] = {"critical": 1, "high": 2, "medium": 3, "low": 4}
HINTS = {
    401: "HaloPSA refused the credentials: check the API application's client id and secret "
         "(Configuration > Integrations > HaloPSA API) and that it uses client credentials",
    403: "the API application may not do this: give it the permissions edit:tickets and read:tickets",
    400: "HaloPSA refused the request: check the client id, ticket type, priority, team and status ids "
         "in the connector's settings",
    404: "the ticket is not in HaloPSA (deleted?) or the base URL is wrong",
    0: "HaloPSA refused the request: check the connector's settings",
}


def key_line(key: str) -> str:
    return f"Fleetward ticket: {key}"


class HaloPsaConnector:
    name = NAME
    max_batch = MAX_BATCH

    def __init__(self, base_url: str, *, auth_url: str, client_id: str, client_secret: str,
                 tickettype_id: int, default_client_id: int | None = None, tenant: str | None = None,
                 priorities: Mapping[Priority, int] | None = None, resolved_status_id: int = 9,
                 closed_status_ids: Iterable[int] = (),
                 transport: httpx.BaseTransport | None = None, timeout: float = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = check_base_url(NAME, base_url, "baseUrl")
        self.auth_url = check_base_url(NAME, auth_url, "authUrl")
        self.tickettype_id = tickettype_id
        self.default_client_id = default_client_id
        self.priorities = {**DEFAULT_PRIORITIES, **(priorities or {})}
        self.resolved_status_id = resolved_status_id
        self.closed_status_ids = frozenset(closed_status_ids)
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret,
                      "scope": "all"}
        self._tenant = tenant
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None
        self._caller = Caller(NAME, self.base_url, hints=HINTS, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._caller.close()

    def _bearer(self, *, renew: bool = False) -> str:
        with self._lock:
            now = self._clock()
            if self._token is not None and not renew and now < self._token[1]:
                return self._token[0]
            params = {"tenant": self._tenant} if self._tenant else None
            answer = self._caller.json("POST", self.auth_url + "/token", "get token", data=self._form,
                                       params=params)
            token = answer.get("access_token") if isinstance(answer, dict) else None
            lifetime = answer.get("expires_in", 3600) if isinstance(answer, dict) else None
            if not isinstance(token, str) or not token or isinstance(lifetime, bool) \
                    or not isinstance(lifetime, int | float):
                raise shape_error(NAME, "get token", "access_token and expires_in")
            self._token = (token, now + max(0.0, min(float(lifetime), MAX_TOKEN_LIFETIME) - TOKEN_MARGIN))
            return token

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        response, body = self._caller.send(method, url, what,
                                           headers={"Authorization": f"Bearer {self._bearer()}"}, **kwargs)
        if response.status_code == 401:  # revoked or expired early: one fresh token, one more try
            response, body = self._caller.send(method, url, what,
                                               headers={"Authorization": f"Bearer {self._bearer(renew=True)}"},
                                               **kwargs)
        self._caller.check(response, body, what)
        if not body.strip():
            return None
        return parse_json(NAME, body, what)

    def _url(self, ticket_id: str) -> str:
        return f"{self.base_url}/tickets?id={ticket_id}"

    def find(self, key: str) -> ExternalTicket | None:
        """The ticket an earlier create with this idempotency key opened, if any."""
        found = self._call("GET", "/api/Tickets", "search by key",
                           params={"search": key, "includedetails": "true", "pageinate": "true",
                                   "page_size": "10", "page_no": "1"})
        tickets = found.get("tickets") if isinstance(found, dict) else None
        if not isinstance(tickets, list):
            raise shape_error(NAME, "search by key", "an object with a tickets array")
        line = key_line(key)
        for ticket in tickets:
            details = ticket.get("details") if isinstance(ticket, dict) else None
            if isinstance(details, str) and line in details.splitlines():
                ticket_id = _ticket_id(ticket, "search by key")
                return ExternalTicket(ticket_id, self._url(ticket_id))
        return None

    def create(self, payload: TicketPayload) -> ExternalTicket:
        existing = self.find(payload.idempotency_key)
        if existing is not None:
            return existing
        client = payload.company_id or (str(self.default_client_id) if self.default_client_id else None)
        if not client or not client.isdigit():
            raise ConnectorSetupError(NAME, f"client {payload.client!r} has no numeric HaloPSA client id",
                                      hint="set the client's PSA company id to its Halo client id, or the "
                                           "connector's default client id")
        ticket: dict[str, Any] = {
            "summary": payload.title,
            "details": f"{payload.body}\n\nDevice: {payload.hostname}\nAlert: {payload.alert_type} "
                       f"({payload.severity})\n{key_line(payload.idempotency_key)}",
            "priority_id": self.priorities[payload.priority],
            "client_id": int(client),
            "tickettype_id": self.tickettype_id,
        }
        if payload.board:
            ticket["team"] = payload.board
        if payload.assignee:
            if not payload.assignee.isdigit():
                raise ConnectorSetupError(NAME, f"assignee {payload.assignee[:40]!r} is not a HaloPSA agent id",
                                          hint="route to the agent's numeric Halo id")
            ticket["agent_id"] = int(payload.assignee)
        created = self._call("POST", "/api/Tickets", "create ticket", json=[ticket])
        if isinstance(created, list) and len(created) == 1:
            created = created[0]
        ticket_id = _ticket_id(created, "create ticket")
        return ExternalTicket(ticket_id, self._url(ticket_id))

    def add_note(self, external_id: str, text: str) -> None:
        self._note(_checked_id(external_id), check_note(text))

    def _note(self, ticket_id: str, text: str) -> None:
        action = {"ticket_id": int(ticket_id), "note": text, "outcome": "Private Note", "hiddenfromuser": True}
        self._call("POST", "/api/Actions", "add note", json=[action])

    def resolve(self, external_id: str, note: str) -> None:
        ticket_id = _checked_id(external_id)
        self._note(ticket_id, check_note(note))
        self._call("POST", "/api/Tickets", "resolve ticket",
                   json=[{"id": int(ticket_id), "status_id": self.resolved_status_id}])

    def fetch_state(self, external_id: str) -> TicketState | None:
        ticket = self._call("GET", f"/api/Tickets/{_checked_id(external_id)}", "fetch ticket")
        return self._remote(ticket, "fetch ticket").state

    def fetch_states(self, external_ids: Sequence[str]) -> dict[str, RemoteTicket]:
        found: dict[str, RemoteTicket] = {}
        for external_id in external_ids[:MAX_BATCH]:
            try:
                ticket = self._call("GET", f"/api/Tickets/{_checked_id(external_id)}", "poll ticket")
            except ConnectorRejected as error:
                if error.status == 404:
                    continue  # deleted in Halo: nothing to read back
                raise
            remote = self._remote(ticket, "poll ticket")
            found[remote.id] = remote
        return found

    def _remote(self, ticket: Any, what: str) -> RemoteTicket:
        status = ticket.get("status_id") if isinstance(ticket, dict) else None
        if isinstance(status, bool) or not isinstance(status, int):
            raise shape_error(NAME, what, "a ticket with a numeric status_id")
        assert isinstance(ticket, dict)
        ticket_id = _ticket_id(ticket, what)
        state: TicketState = "open"
        if status == self.resolved_status_id:
            state = "resolved"
        elif ticket.get("hasbeenclosed") is True or status in self.closed_status_ids:
            state = "closed"
        agent_name, agent_id = ticket.get("agent_name"), ticket.get("agent_id")
        closed_by = agent_name[:100] if isinstance(agent_name, str) and agent_name else (
            f"agent {agent_id}" if isinstance(agent_id, int) and not isinstance(agent_id, bool) and agent_id > 0
            else None)
        return RemoteTicket(ticket_id, state, f"status {status}", closed_by)
