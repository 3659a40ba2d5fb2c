"""read_observed returns exactly what was written, in at most four set-based queries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from controller.observed import FailureRecord, OpenJob
from controller.store import (
    EnrolledAgent,
    Store,
    ingest_inventory,
    issue_jobs,
    lease_jobs,
    read_observed,
    record_job_event,
    revoke_agent,
)
from controller.store.tables import agents
from schemas.protocol import InventoryReport, ManagedItem
from tests.store.builders import NOW, SHA, enroll, event, intent, plan, principal, statements

TTL = timedelta(days=30)
LEASE = timedelta(minutes=5)


def _attempt(store: Store, agent: EnrolledAgent, status: str, at: timedelta, reason: str = "",
             retry_after_seconds: int | None = None) -> str:
    [job_id] = issue_jobs(store, plan(intent(agent, "flaky", "2.0")), SHA, NOW + at, TTL)
    lease_jobs(store, agent.agent_id, NOW + at, LEASE, 10)
    record_job_event(store, agent.agent_id, job_id,
                     event(status, reason=reason, retry_after_seconds=retry_after_seconds), NOW + at)
    return job_id


def test_agents_managed_software_and_open_jobs_come_back_as_written(store: Store) -> None:
    agent = enroll(store, "acme", "pc-1", labels={"site": "berlin"})
    idle = enroll(store, "globex", "pc-2")
    ingest_inventory(store, principal(store, agent), InventoryReport(
        full=True, managed=[ManagedItem(package="tool", version="1.0.0"),
                            ManagedItem(package="editor", version="3.1")]), NOW)
    queued, held, running = issue_jobs(store, plan(
        intent(agent, "a", "1"), intent(agent, "b", "2", action="upgrade", deployment="b-everywhere"),
        intent(agent, "c", "3")), SHA, NOW, TTL)
    lease_jobs(store, agent.agent_id, NOW, LEASE, max_jobs=3)
    record_job_event(store, agent.agent_id, running, event("running"), NOW)
    record_job_event(store, agent.agent_id, queued, event("succeeded"), NOW)  # finished: not open
    [requeued] = issue_jobs(store, plan(intent(agent, "d", "4")), SHA, NOW, TTL)

    observed = read_observed(store, now=NOW)
    assert set(observed.agents) == {agent.agent_id, idle.agent_id}
    seen = observed.agents[agent.agent_id]
    assert (seen.client, seen.hostname) == ("acme", "pc-1")
    assert seen.labels == {"site": "berlin", "os": "linux", "os_version": "12", "arch": "x86_64",
                           "hostname": "pc-1", "client": "acme"}
    assert seen.managed == {"tool": "1.0.0", "editor": "3.1"}
    assert seen.open_jobs == (
        OpenJob(held, "upgrade", "b", "2", "b-everywhere", "leased", NOW),  # type: ignore[arg-type]
        OpenJob(running, "install", "c", "3", "acme.tool", "running", NOW),  # type: ignore[arg-type]
        OpenJob(requeued, "install", "d", "4", "acme.tool", "queued", NOW),  # type: ignore[arg-type]
    )
    assert seen.failures == {}
    other = observed.agents[idle.agent_id]
    assert (other.managed, other.open_jobs, other.failures) == ({}, (), {})


def test_failures_count_since_the_last_success(store: Store) -> None:
    agent = enroll(store)
    key = ("flaky", "2.0", "install")
    _attempt(store, agent, "failed", timedelta(minutes=1), "exit 1")
    _attempt(store, agent, "refused", timedelta(minutes=2), "bad signature")
    failures = read_observed(store, now=NOW + timedelta(hours=1)).agents[agent.agent_id].failures
    assert failures == {key: FailureRecord(2, NOW + timedelta(minutes=2), "bad signature")}

    _attempt(store, agent, "succeeded", timedelta(minutes=3))
    assert read_observed(store, now=NOW + timedelta(hours=1)).agents[agent.agent_id].failures == {}

    _attempt(store, agent, "failed", timedelta(minutes=4), "disk full")
    failures = read_observed(store, now=NOW + timedelta(hours=1)).agents[agent.agent_id].failures
    assert failures == {key: FailureRecord(1, NOW + timedelta(minutes=4), "disk full")}


def test_retry_later_results_are_deferrals_not_failures(store: Store) -> None:
    agent = enroll(store)
    key = ("flaky", "2.0", "install")
    _attempt(store, agent, "failed", timedelta(minutes=1), "exit 1")
    _attempt(store, agent, "failed", timedelta(minutes=5), "1618: another install", retry_after_seconds=600)
    failures = read_observed(store, now=NOW + timedelta(hours=1)).agents[agent.agent_id].failures
    assert failures == {key: FailureRecord(1, NOW + timedelta(minutes=1), "1618: another install", deferrals=1,
                                           retry_at=NOW + timedelta(minutes=15))}

    _attempt(store, agent, "failed", timedelta(minutes=20), "exit 2")  # a real failure ends the deferral
    failures = read_observed(store, now=NOW + timedelta(hours=1)).agents[agent.agent_id].failures
    assert failures == {key: FailureRecord(2, NOW + timedelta(minutes=20), "exit 2", deferrals=1)}


def test_failures_older_than_the_window_are_forgotten(store: Store) -> None:
    agent = enroll(store)
    _attempt(store, agent, "failed", timedelta(0), "old")
    _attempt(store, agent, "failed", timedelta(days=2), "recent")
    failures = read_observed(store, now=NOW + timedelta(days=3), failure_window=timedelta(days=2)).agents[
        agent.agent_id].failures
    assert [(record.failures, record.reason) for record in failures.values()] == [(1, "recent")]


def test_revoked_agents_are_left_out(store: Store) -> None:
    kept, gone = enroll(store, hostname="kept"), enroll(store, hostname="gone")
    issue_jobs(store, plan(intent(gone)), SHA, NOW, TTL)
    revoke_agent(store, gone.agent_id, None, now=NOW, actor="ops")
    assert set(read_observed(store, now=NOW).agents) == {kept.agent_id}
    assert read_observed(store, agent_ids={gone.agent_id}, now=NOW).agents == {}


def test_at_most_five_selects_however_many_agents(store: Store) -> None:
    for index in range(30):
        agent = enroll(store, hostname=f"pc-{index}")
        issue_jobs(store, plan(intent(agent)), SHA, NOW, TTL)
    with statements(store) as seen:
        observed = read_observed(store, now=NOW)
    assert len(observed.agents) == 30
    assert len([sql for sql in seen if sql.startswith("SELECT")]) == 5  # four per chunk, one for rollouts


def test_only_the_named_agents_are_read_even_past_one_chunk(store: Store) -> None:
    names = [f"a_{index:032x}" for index in range(620)]
    with store.write() as session:
        session.execute(insert(agents), [
            {"id": agent_id, "client": "acme", "hostname": agent_id, "labels": {}, "facts": {"os": "linux"},
             "credential_hash": "0" * 64, "enrolled_at": NOW, "last_seen_at": NOW, "inventory_hashes": {}}
            for agent_id in names])
    wanted = set(names[:610]) | {"a_unknown"}
    with statements(store) as seen:
        observed = read_observed(store, agent_ids=wanted, now=NOW)
    assert set(observed.agents) == set(names[:610])
    assert len([sql for sql in seen if sql.startswith("SELECT")]) == 9  # two chunks of 500 ids, rollouts
    assert read_observed(store, agent_ids=set(), now=NOW).agents == {}
