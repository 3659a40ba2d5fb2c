"""The status branch and GET /api/ticket-connectors show each connector's outbox backlog and failed polls."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.demo.fake_warranty import Scripted
from controller.reconciling import SourceHealth
from controller.secrets import KeyFolder, SealedSecrets, seal
from controller.status.collecting import collect_snapshot
from controller.status.rendering import render_status
from controller.store import NewServiceRequest, Store, open_service_request
from controller.tickets.delivering import OutboxDelivery
from controller.tickets.syncing import TicketSync
from schemas.fleet import FleetSpec
from tests.support.resources import client, desired
from tests.support.running import wait_until
from tests.tickets.servers import FakeConnectWise, FakeWebhookReceiver

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
CW = {"company_id": "msp", "public_key": "pub-7Hq2", "private_key": "cw-priv-SECRET-91", "client_id": "cid-4c1d"}


def _ticket(store: Store, key: str, connector: str, at: datetime = NOW) -> int:
    ticket, _ = open_service_request(store, NewServiceRequest(client="acme", dedup_key=key, title=f"Ticket {key}",
                                                              connector=connector), at)
    return ticket.id


def test_status_shows_the_backlog_and_failed_polls_per_connector(tmp_path: Any, database_url: str) -> None:
    store = Store.open(database_url)
    keys = KeyFolder(tmp_path / "keys")
    keys.ensure()
    key = keys.keyring().sealing_key
    try:
        with FakeWebhookReceiver("whsec-1") as hooks, FakeConnectWise(**CW) as cw:
            fleet = FleetSpec.model_validate({"tickets": {"connectors": {
                "hooks": {"type": "webhook", "url": hooks.base_url, "secret": seal("whsec-1", key)},
                "psa": {"type": "connectwise", "baseUrl": cw.api_url, "companyId": "msp", "board": "Alerts",
                        "company": "ACME", "publicKey": seal(CW["public_key"], key),
                        "privateKey": seal(CW["private_key"], key), "clientId": seal(CW["client_id"], key)}}}})
            state = dataclasses.replace(desired([(None, client("acme"))]), fleet=fleet)
            outbox = OutboxDelivery(store, SealedSecrets(keys), lambda: state)
            sync = TicketSync(store, SealedSecrets(keys), lambda: state)
            try:
                _ticket(store, "one", "psa")
                assert outbox.run_pass(NOW).delivered == 1
                hooks.script.extend([Scripted(503, b"down"), Scripted(503, b"down")])
                _ticket(store, "two", "hooks")
                _ticket(store, "three", "hooks")
                assert outbox.run_pass(NOW).retrying == 2
                cw.script.append(Scripted(500, b"<html>oops</html>"))
                assert sync.run_pass(NOW).failed
            finally:
                outbox.close()
                sync.close()

        def readme(at: datetime) -> str:
            snapshot = collect_snapshot(store, state, SourceHealth(ok=True), at, online_window=180)
            return render_status(snapshot)["README.md"].decode()

        page = readme(NOW + timedelta(minutes=10))
    finally:
        store.close()
    assert "## Ticket connectors" in page
    assert "| `hooks` | webhook | 2 | since 2026-11-27 12:00 UTC (under an hour) | 0 | - | - | - |" in page
    assert "| `psa` | connectwise | 0 | - | 0 | every 5 min | 1 / 1 | 0 |" in page
    assert "- `hooks` delivery: webhook: ticket.created: the PSA failed (HTTP 503)" in page
    assert "- `psa` polling: connectwise: poll tickets: the PSA failed (HTTP 500)" in page
    assert "oops" not in page and CW["private_key"] not in page


def test_a_waiting_backlog_changes_the_report_only_when_its_age_bucket_does(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        _ticket(store, "one", "gone")  # a connector no longer in fleet.yaml: its row waits to be looked at

        def readme(at: datetime) -> str:
            snapshot = collect_snapshot(store, desired([(None, client("acme"))]), SourceHealth(ok=True), at,
                                        online_window=180)
            return render_status(snapshot)["README.md"].decode()

        early, later, much_later = readme(NOW), readme(NOW + timedelta(minutes=50)), readme(NOW + timedelta(hours=2))
    finally:
        store.close()
    assert early == later
    assert "| `gone` | removed from fleet.yaml | 1 | since 2026-11-27 12:00 UTC (1-6 hours) |" in much_later


def test_no_connectors_no_section(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        snapshot = collect_snapshot(store, desired([(None, client("acme"))]), SourceHealth(ok=True), NOW,
                                    online_window=180)
    finally:
        store.close()
    assert "Ticket connectors" not in render_status(snapshot)["README.md"].decode()


def test_the_api_lists_connector_health_to_msp_wide_tokens(running: Any) -> None:
    ticket = _ticket(running.store, "api", "nowhere", datetime.now(UTC))  # due for the running outbox now
    with running.api() as api:
        found = wait_until(lambda: [c for c in api.get("/api/ticket-connectors").json() if c["failed"]],
                           what="the running outbox to refuse the row")
        assert found == [{"connector": "nowhere", "pending": 0, "oldest_pending_at": None, "failed": 1,
                          "last_error": "no connector 'nowhere' in fleet.yaml spec.tickets.connectors",
                          "polled_at": None, "last_poll_success_at": None, "poll_failures": 0, "failed_polls": 0,
                          "resolved_from_psa": 0, "last_poll_error": ""}]
        assert api.get(f"/api/service-requests/{ticket}").json()["deliveries"][0]["state"] == "failed"
    with running.api(running.token("viewer", client="acme")) as scoped:
        refused = scoped.get("/api/ticket-connectors")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
