"""Agent-offline alerts with a controlled clock, on SQLite and PostgreSQL: raised past the threshold
(per client and group), cleared when the agent checks in again or is revoked, nothing rewritten
while nothing changes, and one indexed read however many agents there are."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, text

from controller.desired import DesiredState
from controller.offline import ALERT_TYPE, OfflineWatcher, check_offline, shortest_threshold
from controller.store import Store, list_alerts, revoke_agent
from controller.store.tables import agents
from schemas.fleet import FleetSpec
from tests.store.builders import NOW, enroll, principal, statements, writes
from tests.support.resources import client, desired, resource


def _state(fleet_offline: dict[str, Any] | None = None, *extra: tuple[str | None, Any],
           client_monitors: dict[str, Any] | None = None) -> DesiredState:
    acme = client("acme")
    if client_monitors is not None:
        dumped = acme.model_dump(by_alias=True)
        acme = acme.model_validate({**dumped, "spec": {**dumped["spec"], "monitors": client_monitors}})
    fleet = FleetSpec.model_validate({"defaults": {"monitors": {"agentOffline": fleet_offline or {}}}})
    return dataclasses.replace(desired([("acme", acme), ("globex", client("globex")), *extra]), fleet=fleet)


def _open(store: Store) -> dict[str, tuple[str, str]]:
    """hostname -> (severity, client) of every open offline alert."""
    return {row.detail["hostname"]: (row.severity, row.client)
            for row in list_alerts(store, None, state="open", type=ALERT_TYPE)}


def test_raised_past_the_threshold_and_cleared_on_check_in_or_revocation(store: Store) -> None:
    web, db, other = (enroll(store, "acme", "web-01"), enroll(store, "acme", "db-01"),
                      enroll(store, "globex", "pc-01"))
    state = _state()
    clock = [NOW + timedelta(minutes=29)]
    watcher = OfflineWatcher(store, lambda: state, lambda: clock[0])
    assert watcher.check() == [] and _open(store) == {}
    clock[0] = NOW + timedelta(minutes=31)
    watcher.check()
    assert _open(store) == {"web-01": ("warning", "acme"), "db-01": ("warning", "acme"),
                            "pc-01": ("warning", "globex")}
    (alert,) = [row for row in list_alerts(store, "acme", state="open") if row.agent_id == web.agent_id]
    assert alert.message == "web-01 has not checked in since 2026-11-27 12:00 UTC (offline after 30 min)"
    principal(store, web, NOW + timedelta(minutes=32))  # web-01 checks in again
    revoke_agent(store, other.agent_id, None, now=NOW + timedelta(minutes=32), actor="tests")
    clock[0] = NOW + timedelta(minutes=33)
    watcher.check()
    assert _open(store) == {"db-01": ("warning", "acme")}
    assert {row.detail["hostname"] for row in list_alerts(store, None, state="cleared")} == {"web-01", "pc-01"}
    assert db.agent_id in {row.agent_id for row in list_alerts(store, None, state="open")}


def test_a_pass_that_changes_nothing_writes_nothing(store: Store) -> None:
    enroll(store, "acme", "web-01")
    state = _state()
    check_offline(store, state, NOW + timedelta(hours=1))
    with statements(store) as seen:
        check_offline(store, state, NOW + timedelta(hours=2))
    assert writes(seen) == [] and _open(store) == {"web-01": ("warning", "acme")}


def test_thresholds_and_severity_follow_client_and_group_overrides(store: Store) -> None:
    enroll(store, "acme", "db-01", labels={"role": "server"})
    enroll(store, "acme", "pc-01")
    enroll(store, "globex", "pc-02")
    servers = resource("DeviceGroup", "servers", {"selector": {"matchLabels": {"role": "server"}},
                                                  "monitors": {"agentOffline": {
                                                      "enabled": True, "afterMinutes": 10, "severity": "critical"}}})
    state = _state({"afterMinutes": 120}, ("acme", servers), client_monitors={"agentOffline": {"enabled": False}})
    assert shortest_threshold(state) == timedelta(minutes=10)
    check_offline(store, state, NOW + timedelta(minutes=11))
    assert _open(store) == {"db-01": ("critical", "acme")}  # acme's laptops never alert: disabled for the client
    check_offline(store, state, NOW + timedelta(minutes=121))
    assert _open(store) == {"db-01": ("critical", "acme"), "pc-02": ("warning", "globex")}
    everyone_off = _state({"enabled": False})
    check_offline(store, everyone_off, NOW + timedelta(minutes=122))
    assert _open(store) == {}


def test_ten_thousand_agents_cost_one_indexed_read(store: Store) -> None:
    rows = [{"id": f"a_{index:032d}", "client": "acme", "hostname": f"host-{index}", "labels": {}, "facts": {},
             "credential_hash": "x" * 64, "enrolled_at": NOW, "inventory_hashes": {},
             "last_seen_at": NOW - timedelta(minutes=45 if index % 1000 == 0 else 1)}
            for index in range(10_000)]
    with store.write() as session:
        session.execute(insert(agents), rows)
    state = _state()
    assert len(check_offline(store, state, NOW)) == 10
    with statements(store) as seen:
        again = check_offline(store, state, NOW + timedelta(seconds=30))
    assert len(again) == 10 and writes(seen) == []
    reads = [sql.replace('"', "") for sql in seen if sql.startswith("SELECT")]
    assert reads == ["SELECT AGENTS.ID,", "SELECT AGENT_ALERT_HISTORY.KEY,"]  # the silent agents, the open alerts
    if store.dialect == "sqlite":
        with store.read() as session:
            plan = " ".join(str(row[-1]) for row in session.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM agents WHERE last_seen_at < :cutoff AND revoked_at IS NULL"),
                {"cutoff": NOW.isoformat()}))
        assert "ix_agents_last_seen_at" in plan
