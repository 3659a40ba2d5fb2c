"""The status branch shows each client's policy compliance and each device's failing checks with evidence."""

from __future__ import annotations

from datetime import UTC, datetime

from ruamel.yaml import YAML

from controller.reconciling import SourceHealth
from controller.status.collecting import collect_snapshot
from controller.status.rendering import render_status
from controller.store import Store, create_enrollment_token, enroll_agent
from controller.store.policies import Assignment, store_policy_results, write_assignments
from schemas.protocol import CheckOutcome, Facts, PolicyResult
from tests.support.resources import client, desired

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_compliance_per_client_and_failing_checks_per_device(database_url):
    store = Store.open(database_url)
    try:
        ids = [enroll_agent(store, create_enrollment_token(store, "acme", created_by="t", now=NOW),
                            Facts(hostname=name, os="linux"), {}, NOW).agent_id for name in ("web-01", "web-02")]
        write_assignments(store, [Assignment("acme.ssh-hardening", agent, "acme", "v1") for agent in ids], [], None)
        store_policy_results(store, ids[0], "acme", [PolicyResult(
            id="r1", policy_id="acme.ssh-hardening", version="v1", status="non_compliant", mode="audit",
            trigger="schedule", started_at=NOW, finished_at=NOW, checks=[
                CheckOutcome(name="no-root-login", type="file", status="non_compliant",
                             evidence="no line of /etc/ssh/sshd_config matches '^PermitRootLogin no'"),
                CheckOutcome(name="sshd-running", type="service", status="compliant", evidence="running")])], NOW)
        snapshot = collect_snapshot(store, desired([(None, client("acme"))]), SourceHealth(ok=True), NOW,
                                    online_window=180)
    finally:
        store.close()
    files = render_status(snapshot)
    page = files["clients/acme.md"].decode()
    assert "| `acme.ssh-hardening` | 2 | 0 | 1 | 0 | 0 | 1 |" in page  # web-02 never reported: unknown
    devices = {path: YAML(typ="safe").load(files[path]) for path in files if path.startswith("devices/acme/")}
    failing = {path: device["failingChecks"]
               for path, device in devices.items()}
    assert sorted(len(checks) for checks in failing.values()) == [0, 1]
    (check,) = [checks[0] for checks in failing.values() if checks]
    assert check == {"policy": "acme.ssh-hardening", "mode": "audit", "check": "no-root-login",
                     "status": "non_compliant",
                     "evidence": "no line of /etc/ssh/sshd_config matches '^PermitRootLogin no'"}
