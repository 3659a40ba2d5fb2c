"""The built-in ticket store: life cycle, one open ticket per key, manual tickets from alerts, scoping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from controller.errors import Conflict
from controller.store import (
    NewServiceRequest,
    Store,
    get_service_request,
    list_audit,
    open_service_request,
    raise_alert,
    resolve_for_alert,
    update_service_request,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture
def store(database_url):
    opened = Store.open(database_url)
    yield opened
    opened.close()


def _new(key: str = "a_1/disk.low", **changes) -> NewServiceRequest:
    return NewServiceRequest(**{"client": "acme", "dedup_key": key, "title": "Disk low on web-01", **changes})


def test_one_open_ticket_per_key_and_repeats_become_notes(store):
    first, opened = open_service_request(store, _new(), NOW)
    again, reopened = open_service_request(store, _new(title="Disk still low"), NOW)
    other, _ = open_service_request(store, _new("a_2/disk.low"), NOW)
    assert opened and not reopened and again.id == first.id and other.id != first.id
    detail = get_service_request(store, first.id, "acme")
    assert [note.text for note in detail.notes] == ["Repeated: Disk still low"]
    # Once resolved, the key is free again: the next alert opens a new ticket.
    update_service_request(store, first.id, None, actor="tech", now=NOW, state="resolved")
    fresh, opened_again = open_service_request(store, _new(), NOW)
    assert opened_again and fresh.id != first.id


def test_racing_writers_still_open_one_ticket(store):
    results: list[int] = []
    barrier = threading.Barrier(6)

    def race() -> None:
        barrier.wait()
        ticket, _ = open_service_request(store, _new("a_9/cpu.high"), NOW)
        results.append(ticket.id)

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 6 and len(set(results)) == 1


@pytest.mark.parametrize(("path", "allowed"), [
    pytest.param(["acknowledged", "in_progress", "resolved", "closed"], True, id="the-whole-way"),
    pytest.param(["resolved", "in_progress", "resolved"], True, id="reopened"),
    pytest.param(["resolved", "closed", "in_progress"], False, id="closed-is-final"),
    pytest.param(["in_progress", "acknowledged"], False, id="no-going-back"),
])
def test_life_cycle(store, path, allowed):
    ticket, _ = open_service_request(store, _new(), NOW)
    steps = iter(path)
    if allowed:
        for state in steps:
            ticket = update_service_request(store, ticket.id, "acme", actor="tech", now=NOW, state=state)
        assert ticket.state == path[-1]
    else:
        with pytest.raises(Conflict, match="cannot become"):
            for state in steps:
                update_service_request(store, ticket.id, "acme", actor="tech", now=NOW, state=state)


def test_a_cleared_alert_resolves_its_ticket(store):
    alert_id, _ = raise_alert(store, client="acme", agent_id=None, type="disk.low", severity="critical",
                              key="agent:a_1:disk:/", message="/ is 97 % full", now=NOW)
    ticket, _ = open_service_request(store, _new(source_alert_id=alert_id), NOW)
    resolved = resolve_for_alert(store, alert_id, note="the alert cleared", actor="rule acme.disk", now=NOW)
    assert resolved is not None and resolved.id == ticket.id and resolved.state == "resolved"
    assert resolved.resolved_at == NOW


def test_manual_tickets_over_http(running):
    alert_id, _ = raise_alert(running.store, client="acme", agent_id=None, type="license.over-deployed",
                              severity="critical", key="by-hand:acme.cad", message="Acme CAD: 3 devices use 1 seat",
                              now=NOW)
    with running.api(running.token("operator", name="alice")) as api:
        assert api.get(f"/api/alerts/{alert_id}/ticket").status_code == 404
        created = api.post(f"/api/alerts/{alert_id}/create-ticket", json={"note": "buy two seats"})
        again = api.post(f"/api/alerts/{alert_id}/create-ticket", json={})
        ticket = api.get(f"/api/alerts/{alert_id}/ticket").json()
        patched = api.patch(f"/api/service-requests/{ticket['id']}", json={"state": "acknowledged",
                                                                          "assignee": "bob", "note": "on it"})
        refused = api.patch(f"/api/service-requests/{ticket['id']}", json={"state": "new"})
        detail = api.get(f"/api/service-requests/{ticket['id']}").json()
        listed = api.get("/api/service-requests", params={"open": "true"}).json()["items"]
    assert created.status_code == 201 and created.json()["opened"] is True
    assert again.status_code == 200 and again.json()["opened"] is False
    assert again.json()["ticket"]["id"] == ticket["id"] == created.json()["ticket"]["id"]
    assert (ticket["priority"], ticket["title"], ticket["created_by"]) == (
        "high", "Acme CAD: 3 devices use 1 seat", "alice")
    assert patched.status_code == 200 and patched.json()["state"] == "acknowledged"
    assert refused.status_code == 409
    assert detail["source_alert"]["id"] == alert_id
    assert detail["notes"][-1]["text"] == "state new → acknowledged; assignee - → bob\n\non it"
    assert [item["id"] for item in listed] == [ticket["id"]]
    actions = [entry.action for entry in list_audit(running.store, None)]
    assert actions.count("alert.create-ticket") == 2 and "service-request.update" in actions
    with running.api(running.token("viewer")) as api:
        assert api.post(f"/api/alerts/{alert_id}/create-ticket", json={}).status_code == 403
    with running.api(running.token("operator", client="globex")) as api:
        assert api.get(f"/api/service-requests/{ticket['id']}").status_code == 404
        assert api.get("/api/service-requests").json()["items"] == []


RULE = """\
apiVersion: fleetward/v1
kind: AlertTicketRule
metadata: {name: licences}
spec:
  match: {alertTypes: ["license.*"], severities: [critical]}
  title: "{{ alert.message }}"
  routing: {assignee: licensing-desk}
"""


def test_a_served_controller_turns_a_matching_alert_into_a_ticket(running, fleet_repo):
    from tests.support.gitrepos import commit
    from tests.support.running import wait_until

    repo, _sha = fleet_repo
    running.wait_applied(commit(repo, {"clients/acme/rules.yaml": RULE}, "licence alerts become tickets"))
    # Keys outside "license:": the controller's licence pass clears every "license:" alert it did not
    # compute itself, and could do so before the ticket worker saw these.
    raise_alert(running.store, client="acme", agent_id=None, type="license.over-deployed", severity="critical",
                key="by-hand:acme.cad", message="Acme CAD: 3 devices use 1 seat", now=datetime.now(UTC))
    raise_alert(running.store, client="acme", agent_id=None, type="license.expiring", severity="info",
                key="by-hand:acme.other", message="not critical: no ticket", now=datetime.now(UTC))
    with running.api() as api:
        tickets = wait_until(lambda: api.get("/api/service-requests").json()["items"], what="a ticket")
    assert [(t["title"], t["assignee"], t["rule"]) for t in tickets] == [
        ("Acme CAD: 3 devices use 1 seat", "licensing-desk", "acme.licences")]


def test_each_over_deployed_licence_gets_its_own_ticket(running, fleet_repo):
    from tests.support.gitrepos import commit
    from tests.support.running import wait_until

    repo, _sha = fleet_repo
    running.wait_applied(commit(repo, {"clients/acme/rules.yaml": RULE}, "licence alerts become tickets"))
    for licence in ("cad", "office"):
        raise_alert(running.store, client="acme", agent_id=None, type="license.over-deployed", severity="critical",
                    key=f"by-hand:acme.{licence}", message=f"{licence}: over", now=datetime.now(UTC))
    with running.api() as api:
        wait_until(lambda: len(api.get("/api/service-requests").json()["items"]) >= 2, what="two tickets")
        titles = sorted(item["title"] for item in api.get("/api/service-requests").json()["items"])
    assert titles == ["cad: over", "office: over"]
