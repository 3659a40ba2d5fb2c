"""A policy failing on a device is an alert (type agent.policy) that the next passing run clears."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.policies.alerting import apply_policy_alerts
from controller.store import list_alerts
from schemas.protocol import CheckOutcome, PolicyResult

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def run(status: str, *, mode: str = "enforce", at: datetime = NOW, policy: str = "acme.baseline",
        failing: tuple[str, ...] = ("firewall",)) -> PolicyResult:
    checks = [CheckOutcome(name=name, type="firewall", status="non_compliant" if status != "error" else "error",
                           evidence=f"{name}: off") for name in failing] if status in ("non_compliant", "error") else []
    checks.append(CheckOutcome(name="ok", type="file", status="compliant"))
    return PolicyResult(id=f"r{at.timestamp():.0f}{status[:3]}", policy_id=policy, version="v1", status=status,
                        mode=mode, trigger="schedule", started_at=at, finished_at=at, checks=checks)


def test_a_failing_enforced_policy_raises_a_warning_naming_its_checks_and_a_passing_run_clears_it(store):
    raised = apply_policy_alerts(store, "a1", "acme", [run("non_compliant", failing=("firewall", "lock"))], NOW)
    (alert,) = list_alerts(store, "acme", state="open")
    assert raised == [alert.id]  # what the route hands to the ticket worker
    assert (alert.type, alert.severity, alert.key, alert.agent_id) == ("agent.policy", "warning",
                                                                        "policy:a1:acme.baseline", "a1")
    assert alert.message == "Policy acme.baseline is not compliant (2 of 3 checks: firewall, lock)"
    assert [check["evidence"] for check in alert.detail["checks"]] == ["firewall: off", "lock: off"]

    cleared = apply_policy_alerts(store, "a1", "acme", [run("compliant", at=NOW + timedelta(hours=1))],
                                  NOW + timedelta(hours=1))
    assert list_alerts(store, "acme", state="open") == [] and cleared == [alert.id]
    assert apply_policy_alerts(store, "a1", "acme", [run("compliant", at=NOW + timedelta(hours=2))],
                               NOW + timedelta(hours=2)) == []  # nothing was open: nothing to look at


def test_audit_policies_raise_info_and_errors_raise_warnings(store):
    apply_policy_alerts(store, "a1", "acme", [run("non_compliant", mode="audit", policy="acme.audit"),
                                              run("error", policy="acme.broken")], NOW)
    found = {alert.key: (alert.severity, alert.message) for alert in list_alerts(store, "acme", state="open")}
    assert found == {
        "policy:a1:acme.audit": ("info", "Policy acme.audit is not compliant (1 of 2 checks: firewall)"),
        "policy:a1:acme.broken": ("warning", "Policy acme.broken could not be evaluated (1 of 2 checks: firewall)"),
    }


def test_only_the_newest_run_of_a_policy_in_a_report_counts(store):
    later = NOW + timedelta(minutes=30)
    apply_policy_alerts(store, "a1", "acme", [run("compliant", at=later), run("non_compliant")], later)
    assert list_alerts(store, "acme", state="open") == []
    apply_policy_alerts(store, "a1", "acme", [run("non_compliant", at=later), run("compliant")], later)
    (alert,) = list_alerts(store, "acme", state="open")
    assert alert.raised_at.replace(tzinfo=UTC) == later


def test_many_failing_checks_are_listed_five_then_counted(store):
    names = tuple(f"c{index}" for index in range(8))
    apply_policy_alerts(store, "a1", "acme", [run("non_compliant", failing=names)], NOW)
    (alert,) = list_alerts(store, "acme", state="open")
    assert alert.message.endswith("(8 of 9 checks: c0, c1, c2, c3, c4 and 3 more)")
