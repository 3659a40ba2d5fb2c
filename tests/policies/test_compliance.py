"""Results in SQL and the compliance roll-ups: unknown for silent targets, newest result wins, history capped."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.policies.compliance import ComplianceFilter, compliance
from controller.store.policies import (
    HISTORY_PER_POLICY,
    Assignment,
    GroupMember,
    failing_checks,
    pending_runs,
    policy_history,
    request_runs,
    store_policy_results,
    write_assignments,
)
from schemas.protocol import CheckOutcome, PolicyResult
from tests.store.builders import NOW, enroll

_counter = iter(range(1_000_000))


def result(policy: str, status: str = "compliant", *, version: str = "v1", at=NOW, rid: str | None = None,
           run_request: str | None = None) -> PolicyResult:
    return PolicyResult(
        id=rid or f"r{next(_counter)}", policy_id=policy, version=version, status=status, mode="audit",
        trigger="schedule", run_request=run_request, started_at=at, finished_at=at,
        checks=[CheckOutcome(name="c", type="file", status=status, evidence=f"{status} evidence")])


@pytest.fixture
def fleet(store):
    """Three acme devices and one globex device; policy p1 on all acme, p2 on two; group g holds two."""
    acme = [enroll(store, "acme", f"pc-{i}") for i in range(3)]
    globex = enroll(store, "globex", "gx-1")
    assignments = [Assignment("acme.p1", agent.agent_id, "acme", "v1") for agent in acme]
    assignments += [Assignment("p2", agent.agent_id, "acme", "v1") for agent in acme[:2]]
    assignments += [Assignment("p2", globex.agent_id, "globex", "v1")]
    members = [GroupMember("acme.g", agent.agent_id, "acme") for agent in acme[:2]]
    write_assignments(store, assignments, members, None)
    return acme, globex


def test_targets_that_never_reported_are_unknown_never_compliant(store, fleet) -> None:
    rollup = compliance(store, ComplianceFilter())
    assert rollup.totals.unknown == rollup.totals.total == 6
    assert rollup.totals.compliant == 0


def test_roll_ups_per_policy_client_group_and_device(store, fleet) -> None:
    (a, b, c), globex = fleet
    store_policy_results(store, a.agent_id, "acme", [result("acme.p1"), result("p2", "non_compliant")], NOW)
    store_policy_results(store, b.agent_id, "acme", [result("acme.p1", "error")], NOW)
    store_policy_results(store, c.agent_id, "acme", [result("acme.p1", "compliant", version="v0")], NOW)  # stale
    store_policy_results(store, globex.agent_id, "globex", [result("p2", "not_applicable")], NOW)

    everything = compliance(store, ComplianceFilter())
    policies = {item.policy: item.counts for item in everything.policies}
    assert (policies["acme.p1"].compliant, policies["acme.p1"].error, policies["acme.p1"].unknown) == (1, 1, 1)
    assert (policies["p2"].non_compliant, policies["p2"].unknown, policies["p2"].not_applicable) == (1, 1, 1)
    clients = {item.client: item.counts.total for item in everything.clients}
    assert clients == {"acme": 5, "globex": 1}
    assert [(group.group, group.counts.total) for group in everything.groups] == [("acme.g", 4)]
    assert everything.devices[0].hostname in ("pc-0", "pc-1")  # the failing devices come first

    acme = compliance(store, ComplianceFilter(client="acme", policy="p2"))
    assert acme.totals.total == 2 and acme.totals.non_compliant == 1
    failing = compliance(store, ComplianceFilter(status="non_compliant"))
    assert [(device.hostname, device.counts.total) for device in failing.devices] == [("pc-0", 1)]
    one = compliance(store, ComplianceFilter(device="pc-1"))
    assert one.totals.total == 2 and one.totals.error == 1
    grouped = compliance(store, ComplianceFilter(group="acme.g"))
    assert grouped.totals.total == 4
    assert [row["policy_id"] for row in failing_checks(store, "acme")] == ["p2", "acme.p1"]


def test_a_result_is_stored_once_and_an_older_one_never_overwrites_a_newer(store, fleet) -> None:
    (a, _b, _c), _globex = fleet
    newer = result("acme.p1", "compliant", at=NOW, rid="new")
    older = result("acme.p1", "non_compliant", at=NOW - timedelta(hours=1), rid="old")
    assert store_policy_results(store, a.agent_id, "acme", [newer], NOW) == ["new"]
    assert store_policy_results(store, a.agent_id, "acme", [newer, older], NOW) == ["new", "old"]
    assert compliance(store, ComplianceFilter(policy="acme.p1", device="pc-0")).totals.compliant == 1
    assert [run.status for run in policy_history(store, "acme.p1", "acme")] == ["non_compliant", "compliant"]


def test_history_is_capped_per_agent_and_policy_and_pages(store, fleet) -> None:
    (a, _b, _c), _globex = fleet
    runs = [result("acme.p1", at=NOW + timedelta(minutes=i)) for i in range(HISTORY_PER_POLICY + 5)]
    store_policy_results(store, a.agent_id, "acme", runs, NOW + timedelta(days=1))
    first = policy_history(store, "acme.p1", None, limit=60)
    rest = policy_history(store, "acme.p1", None, limit=60, before=first[-1].id)
    assert len(first) + len(rest) == HISTORY_PER_POLICY
    assert policy_history(store, "acme.p1", "globex") == []


def test_run_now_is_pending_until_answered(store, fleet) -> None:
    (a, b, _c), _globex = fleet
    request, asked = request_runs(store, "p2", "acme", None, actor="tests", now=NOW)
    assert sorted(asked) == sorted([a.agent_id, b.agent_id])  # acme's token never reaches globex
    assert set(pending_runs(store, NOW)) == {a.agent_id, b.agent_id}
    store_policy_results(store, a.agent_id, "acme", [result("p2", run_request=request)], NOW)
    assert set(pending_runs(store, NOW)) == {b.agent_id}
    assert pending_runs(store, NOW + timedelta(days=2)) == {}


def test_assignments_change_by_difference(store, fleet) -> None:
    (a, _b, _c), _globex = fleet
    changed = write_assignments(store, [Assignment("acme.p1", a.agent_id, "acme", "v2")], [], [a.agent_id])
    assert changed == 3  # p1 moved to v2, p2 and the group membership gone
    assert write_assignments(store, [Assignment("acme.p1", a.agent_id, "acme", "v2")], [], [a.agent_id]) == 0
    assert compliance(store, ComplianceFilter(device="pc-0")).totals.total == 1
