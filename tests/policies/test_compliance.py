"""Results in SQL and the compliance roll-ups: unknown for silent targets, newest result wins, history capped."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from controller.policies.compliance import ComplianceFilter, client_policy_counts, compliance
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
from controller.store.tables import agents, device_group_members, policy_assignments, policy_compliance
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


def test_a_result_counts_only_for_the_assigned_version_whichever_is_written_first(store, fleet) -> None:
    (a, _b, _c), _globex = fleet

    def status() -> str:
        (device,) = compliance(store, ComplianceFilter(policy="acme.p1", device="pc-0")).devices
        return next(name for name, number in device.counts.model_dump().items() if number and name != "total")

    store_policy_results(store, a.agent_id, "acme", [result("acme.p1", "compliant", version="v1")], NOW)
    assert status() == "compliant"
    write_assignments(store, [Assignment("acme.p1", a.agent_id, "acme", "v2")], [], [a.agent_id])
    assert status() == "unknown"  # the policy changed; the v1 result no longer counts
    store_policy_results(store, a.agent_id, "acme", [result("acme.p1", "non_compliant", version="v2")], NOW)
    assert status() == "non_compliant"
    store_policy_results(store, a.agent_id, "acme", [result("acme.p1", "compliant", version="v3")],
                         NOW + timedelta(minutes=1))  # the agent is ahead of the assignments
    assert status() == "unknown"
    write_assignments(store, [Assignment("acme.p1", a.agent_id, "acme", "v3")], [], [a.agent_id])
    assert status() == "compliant"  # the assignment caught up with the result already stored


@dataclass
class Raw:
    """The roll-up's inputs read straight from the tables: what the counts must agree with."""

    pairs: list[tuple[str, str, str, str]]  # policy, agent, client, status
    hostnames: dict[str, str]
    members: list[tuple[str, str]]


def _raw(store) -> Raw:
    assigned, current = policy_assignments.c, policy_compliance.c
    with store.read() as session:
        results = {(row.agent_id, row.policy_id): (row.version, row.status) for row in session.execute(
            select(current.agent_id, current.policy_id, current.version, current.status))}
        pairs = []
        for row in session.execute(select(assigned.policy_id, assigned.agent_id, assigned.client, assigned.version)):
            version, status = results.get((row.agent_id, row.policy_id), (None, "unknown"))
            pairs.append((row.policy_id, row.agent_id, row.client, status if version == row.version else "unknown"))
        hostnames = {row.id: row.hostname for row in session.execute(select(agents.c.id, agents.c.hostname))}
        members = [tuple(row) for row in session.execute(
            select(device_group_members.c.group_id, device_group_members.c.agent_id))]
    return Raw(pairs, hostnames, members)


def _expected(raw: Raw, filters: ComplianceFilter) -> dict[str, dict[str, Counter[str]]]:
    group_members = {agent for group, agent in raw.members if group == filters.group}
    selected = [pair for pair in raw.pairs
                if filters.client in (None, pair[2]) and filters.policy in (None, pair[0])
                and (filters.group is None or pair[1] in group_members)
                and filters.device in (None, pair[1], raw.hostnames[pair[1]])
                and filters.status in (None, pair[3])]
    found: dict[str, dict[str, Counter[str]]] = {"policies": {}, "clients": {}, "groups": {}, "devices": {}}
    for policy, agent, client, status in selected:
        found["policies"].setdefault(policy, Counter())[status] += 1
        found["clients"].setdefault(client, Counter())[status] += 1
        found["devices"].setdefault(agent, Counter())[status] += 1
        for group, member in raw.members:
            if member == agent:
                found["groups"].setdefault(group, Counter())[status] += 1
    return found


def _found(rollup) -> dict[str, dict[str, Counter[str]]]:
    return {"policies": {item.policy: counter_of(item.counts) for item in rollup.policies},
            "clients": {item.client: counter_of(item.counts) for item in rollup.clients},
            "groups": {item.group: counter_of(item.counts) for item in rollup.groups},
            "devices": {item.agent_id: counter_of(item.counts) for item in rollup.devices}}


@pytest.mark.parametrize("seed", [1, 2, 3], ids=lambda seed: f"seed{seed}")
def test_roll_ups_equal_a_plain_count_of_the_tables_through_random_changes(store, seed: int) -> None:
    """Assignments moving between versions and targets, results early, late, stale and for other
    versions, in random order: every roll-up equals counting the tables directly."""
    rng = random.Random(seed)
    fleet = [enroll(store, client, f"{client}-{i}") for client in ("acme", "globex") for i in range(4)]
    policies = ["p1", "p2", "acme.p3", "globex.p4"]
    now = NOW

    def assign(subset) -> None:
        rows, members = [], []
        for agent in subset:
            for policy in policies:
                if "." in policy and not policy.startswith(agent.client + "."):
                    continue
                if rng.random() < 0.8:
                    rows.append(Assignment(policy, agent.agent_id, agent.client, rng.choice(["v1", "v2", ""])))
            for group in ("g1", "g2"):
                if rng.random() < 0.5:
                    members.append(GroupMember(group, agent.agent_id, agent.client))
        write_assignments(store, rows, members, [agent.agent_id for agent in subset])

    assign(fleet)
    for step in range(60):
        if rng.random() < 0.2:
            assign(rng.sample(fleet, rng.randint(1, len(fleet))))
        else:
            agent = rng.choice(fleet)
            at = now + timedelta(minutes=rng.randint(-30, 30))
            runs = [result(rng.choice(policies), rng.choice(["compliant", "non_compliant", "error", "not_applicable"]),
                           version=rng.choice(["v1", "v2"]), at=at) for _run in range(rng.randint(1, 3))]
            store_policy_results(store, agent.agent_id, agent.client, runs, now)
        now += timedelta(minutes=5)
        if step % 15 == 14:
            raw = _raw(store)
            device = rng.choice(fleet)
            for filters in (ComplianceFilter(), ComplianceFilter(client="globex"), ComplianceFilter(policy="p1"),
                            ComplianceFilter(group="g1"), ComplianceFilter(device=raw.hostnames[device.agent_id]),
                            ComplianceFilter(status="unknown"), ComplianceFilter(status="compliant", client="acme")):
                rollup = compliance(store, filters)
                assert _found(rollup) == _expected(raw, filters), filters
                assert rollup.totals.total == sum(counts.total for counts in (item.counts for item in rollup.clients))
                failing = [item.counts.non_compliant + item.counts.error for item in rollup.devices]
                assert failing == sorted(failing, reverse=True)
            expected = _expected(raw, ComplianceFilter())["policies"]
            by_client = client_policy_counts(store)
            for policy in expected:
                assert sum((counter_of(counts) for (client, name), counts in by_client.items() if name == policy),
                           Counter()) == expected[policy]


def counter_of(counts) -> Counter[str]:
    return Counter({name: number for name, number in counts.model_dump().items() if name != "total" and number})


def test_on_postgresql_ingest_waits_for_an_assignment_write_in_progress(pg_url) -> None:
    """The status lock: while assignments are being rewritten (exclusive), a report waits, then
    sets the status on the rows as rewritten - so the moved assignment counts its new result."""
    from controller.store import Store
    from controller.store.policies import _sync, _with_current_status

    with Store.open(pg_url) as store:
        agent = enroll(store, "acme", "pc-0")
        write_assignments(store, [Assignment("p1", agent.agent_id, "acme", "v1")], [], None)
        moved = {("p1", agent.agent_id): Assignment("p1", agent.agent_id, "acme", "v2")}
        done = threading.Event()
        with store.write() as session:  # write_assignments' own steps, held open: p1 moves to v2
            _sync(session, policy_assignments, ("policy_id", "agent_id"), moved, None,
                  compare=lambda row: row.version, prepare=_with_current_status)
            reporter = threading.Thread(target=lambda: (store_policy_results(
                store, agent.agent_id, "acme", [result("p1", "non_compliant", version="v2")], NOW), done.set()))
            reporter.start()
            assert not done.wait(1.0)  # the report waits for the assignment write
        reporter.join(10)
        assert done.is_set()
        assert compliance(store, ComplianceFilter()).totals.non_compliant == 1
