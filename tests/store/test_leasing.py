"""Leases hand an agent its own open jobs (again after a restart), never another's, never expired ones."""

from __future__ import annotations

from datetime import timedelta

from controller.store import (
    Store,
    expire_jobs,
    get_job,
    issue_jobs,
    lease_jobs,
    list_job_events,
    record_job_event,
    requeue_stale_leases,
)
from tests.store.builders import NOW, SHA, enroll, event, intent, plan, statements, writes

TTL = timedelta(hours=1)
LEASE = timedelta(minutes=5)


def test_lease_hands_out_own_jobs_in_seq_order_and_never_another_agents(store: Store) -> None:
    mine, theirs = enroll(store, hostname="mine"), enroll(store, hostname="theirs")
    issue_jobs(store, plan(intent(mine, "a"), intent(theirs, "x"), intent(mine, "b"), intent(mine, "c")),
               SHA, NOW, TTL)
    lease = lease_jobs(store, mine.agent_id, NOW, LEASE, max_jobs=2)
    assert [(job.package, job.seq, job.state, job.deliveries) for job in lease.jobs] == [
        ("a", 1, "leased", 1), ("b", 2, "leased", 1)]
    assert lease.seq_high == 3
    assert {job.agent_id for job in lease.jobs} == {mine.agent_id}
    assert lease.jobs[0].leased_until == NOW + LEASE
    assert [job.package for job in lease_jobs(store, theirs.agent_id, NOW, LEASE, 10).jobs] == ["x"]


def test_a_restarted_agent_gets_back_what_it_held(store: Store) -> None:
    agent = enroll(store)
    [job_id] = issue_jobs(store, plan(intent(agent)), SHA, NOW, TTL)
    first = lease_jobs(store, agent.agent_id, NOW, LEASE, 10)
    again = lease_jobs(store, agent.agent_id, NOW + timedelta(minutes=1), LEASE, 10)
    assert [job.job_id for job in first.jobs] == [job.job_id for job in again.jobs] == [job_id]
    assert again.jobs[0].deliveries == 2
    assert get_job(store, job_id, None).leased_until == NOW + timedelta(minutes=1) + LEASE
    assert [event.status for event in list_job_events(store, job_id, None)] == ["queued", "leased", "leased"]


def test_lease_accepts_the_ttl_in_seconds(store: Store) -> None:
    agent = enroll(store)
    issue_jobs(store, plan(intent(agent)), SHA, NOW, TTL)
    [job] = lease_jobs(store, agent.agent_id, NOW, 90.0, 10).jobs
    assert job.leased_until == NOW + timedelta(seconds=90)


def test_an_idle_lease_writes_nothing(store: Store) -> None:
    agent = enroll(store)
    [job_id] = issue_jobs(store, plan(intent(agent)), SHA, NOW, TTL)
    lease_jobs(store, agent.agent_id, NOW, LEASE, 10)
    record_job_event(store, agent.agent_id, job_id, event("succeeded"), NOW)
    with statements(store) as seen:
        assert lease_jobs(store, agent.agent_id, NOW, LEASE, 10) == ([], 1)
    assert seen and writes(seen) == []


def test_expired_jobs_are_not_handed_out(store: Store) -> None:
    agent = enroll(store)
    [old] = issue_jobs(store, plan(intent(agent, "old")), SHA, NOW, timedelta(minutes=10))
    [fresh] = issue_jobs(store, plan(intent(agent, "fresh")), SHA, NOW + timedelta(minutes=5), TTL)
    lease = lease_jobs(store, agent.agent_id, NOW + timedelta(minutes=10), LEASE, 10)
    assert [job.job_id for job in lease.jobs] == [fresh]
    expired = get_job(store, old, None)
    assert (expired.state, expired.finished_at) == ("expired", NOW + timedelta(minutes=10))
    assert "expired" in expired.reason


def test_expire_jobs_marks_every_open_job_past_its_expiry(store: Store) -> None:
    agent = enroll(store)
    short, long = issue_jobs(store, plan(intent(agent, "a")), SHA, NOW, timedelta(minutes=1)) + issue_jobs(
        store, plan(intent(agent, "b")), SHA, NOW, TTL)
    assert expire_jobs(store, NOW + timedelta(minutes=2)) == 1
    assert expire_jobs(store, NOW + timedelta(minutes=2)) == 0
    assert (get_job(store, short, None).state, get_job(store, long, None).state) == ("expired", "queued")


def test_stale_leases_are_requeued_then_given_up(store: Store) -> None:
    agent = enroll(store)
    [job_id] = issue_jobs(store, plan(intent(agent)), SHA, NOW, timedelta(days=1))
    moment = NOW
    for delivery in (1, 2):
        lease_jobs(store, agent.agent_id, moment, LEASE, 10)
        assert requeue_stale_leases(store, moment + LEASE, max_deliveries=2) == 0  # not yet past
        moment += LEASE + timedelta(seconds=1)
        assert requeue_stale_leases(store, moment, max_deliveries=2) == 1
        job = get_job(store, job_id, None)
        assert job.deliveries == delivery
        if delivery == 1:
            assert (job.state, job.leased_until) == ("queued", None)
    assert (job.state, job.reason, job.finished_at) == ("failed", "agent did not report after 2 deliveries",
                                                        moment)
    assert lease_jobs(store, agent.agent_id, moment, LEASE, 10).jobs == []
