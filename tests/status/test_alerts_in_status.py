"""The status branch shows each client's open alerts and tickets, and each device's recent alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ruamel.yaml import YAML

from controller.reconciling import SourceHealth
from controller.status.collecting import collect_snapshot
from controller.status.rendering import render_status
from controller.store import (
    NewServiceRequest,
    Store,
    clear_alert,
    create_enrollment_token,
    enroll_agent,
    open_service_request,
    raise_alert,
    update_service_request,
)
from schemas.protocol import Facts
from tests.support.resources import client, desired

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_open_alerts_tickets_and_device_history(database_url):
    store = Store.open(database_url)
    try:
        token = create_enrollment_token(store, "acme", created_by="t", now=NOW)
        agent_id = enroll_agent(store, token, Facts(hostname="web-01", os="linux"), {}, NOW).agent_id
        disk, _ = raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                              key=f"agent:{agent_id}:disk:/", message="/ has 3 % free", now=NOW)
        raise_alert(store, client="acme", agent_id=agent_id, type="cpu.high", severity="warning",
                    key=f"agent:{agent_id}:cpu", message="CPU above 90 % for 10 min", now=NOW - timedelta(hours=2))
        clear_alert(store, f"agent:{agent_id}:cpu", NOW - timedelta(hours=1))
        raise_alert(store, client="globex", agent_id=None, type="license.expiring", severity="info",
                    key="license:globex.x", message="not acme's", now=NOW)
        open_ticket, _ = open_service_request(store, NewServiceRequest(
            client="acme", dedup_key=f"{agent_id}/disk.low", title="Disk low on web-01", priority="high",
            source_alert_id=disk, agent_id=agent_id), NOW)
        done, _ = open_service_request(store, NewServiceRequest(client="acme", dedup_key="x", title="Old one"), NOW)
        update_service_request(store, done.id, "acme", actor="t", now=NOW, state="resolved")
        snapshot = collect_snapshot(store, desired([(None, client("acme"))]), SourceHealth(ok=True), NOW,
                                    online_window=180)
    finally:
        store.close()
    files = render_status(snapshot)
    page = files["clients/acme.md"].decode()
    assert "| critical | disk.low | web-01 | / has 3 % free | 2026-11-27 12:00 UTC |" in page
    assert "cpu.high" not in page.split("## Open tickets")[0]  # cleared: not open
    assert "not acme's" not in page
    assert f"| {open_ticket.id} | Disk low on web-01 | new | high | — | 2026-11-27 12:00 UTC |" in page
    assert "Old one" not in page
    (device_path,) = [path for path in files if path.startswith("devices/acme/")]
    device = YAML(typ="safe").load(files[device_path])
    assert [(a["type"], a["state"]) for a in device["alerts"]] == [("cpu.high", "cleared"), ("disk.low", "open")]
