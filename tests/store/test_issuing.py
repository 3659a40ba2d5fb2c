"""Plans become jobs with per-agent sequence numbers; cancellations touch only queued jobs."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from controller.store import Store, get_job, issue_jobs, latest_jobs, lease_jobs, revoke_agent
from controller.store.tables import job_events
from tests.store.builders import INSTALLER, NOW, SHA, cancel, enroll, intent, plan, rows

TTL = timedelta(hours=24)


def _seqs(store: Store, agent_id: str) -> list[int]:
    return [row["seq"] for row in sorted(rows(store, "jobs", agent_id=agent_id), key=lambda row: row["seq"])]


def test_seq_increases_per_agent_across_plans(store: Store) -> None:
    one, two = enroll(store, hostname="one"), enroll(store, hostname="two")
    first = issue_jobs(store, plan(intent(one, "a"), intent(two, "a"), intent(one, "b")), SHA, NOW, TTL)
    second = issue_jobs(store, plan(intent(two, "c"), intent(one, "c")), SHA, NOW, TTL)
    assert len(first) == 3 and len(second) == 2 and len(set(first + second)) == 5
    assert _seqs(store, one.agent_id) == [1, 2, 3]
    assert _seqs(store, two.agent_id) == [1, 2]
    last_seqs = {row["id"]: row["last_job_seq"] for row in rows(store, "agents")}
    assert last_seqs == {one.agent_id: 3, two.agent_id: 2}
    # Plan order is seq order for each agent.
    packages = [get_job(store, job_id, None).package for job_id in (first[0], first[2], second[1])]
    assert packages == ["a", "b", "c"]


def test_a_job_carries_what_the_agent_needs(store: Store) -> None:
    agent = enroll(store)
    [job_id] = issue_jobs(store, plan(intent(agent, "tool", "2.0.0", action="upgrade", previous="1.0.0")),
                          SHA, NOW, TTL)
    job = get_job(store, job_id, "acme")
    assert job_id.startswith("j_") and len(job_id) == 34
    assert (job.state, job.action, job.version, job.previous_version, job.revision, job.client) == (
        "queued", "upgrade", "2.0.0", "1.0.0", SHA, "acme")
    assert (job.created_at, job.expires_at, job.deliveries) == (NOW, NOW + TTL, 0)
    assert job.installer["sha256"] == "0" * 64
    [queued] = rows(store, "job_events")
    assert (queued["job_id"], queued["status"]) == (job_id, "queued")
    assert rows(store, "audit_log")[-1]["action"] == "jobs.issued"


def test_window_bounds_and_event_data_are_stored_as_given(store: Store) -> None:
    """Jobs and their events go in through the bulk path (COPY on PostgreSQL): the window bounds,
    the expiry stretched to the window, the installer and each event's data read back as issued;
    an event without data (a cancellation) stores JSON null, as SQLAlchemy's insert does."""
    one, two = enroll(store, hostname="one"), enroll(store, hostname="two")
    opens, closes = NOW + timedelta(days=2), NOW + timedelta(days=2, hours=4)
    windowed = replace(intent(one, "a"), not_before=opens, not_after=closes)
    first, second = issue_jobs(store, plan(windowed, intent(two, "a")), SHA, NOW, TTL)
    issue_jobs(store, plan(cancellations=(cancel(second, two),)), SHA, NOW, TTL)
    stored = {row["id"]: row for row in rows(store, "jobs")}
    assert (stored[first]["not_before"], stored[first]["not_after"], stored[first]["expires_at"]) == (
        opens, closes, closes)
    assert (stored[second]["not_before"], stored[second]["not_after"], stored[second]["expires_at"]) == (
        None, None, NOW + TTL)
    assert stored[first]["installer"] == stored[second]["installer"] == INSTALLER.model_dump(mode="json")
    events = [(row["job_id"], row["status"], row["data"]) for row in rows(store, "job_events")]
    assert events == [(first, "queued", {"seq": 1, "revision": SHA}), (second, "queued", {"seq": 1, "revision": SHA}),
                      (second, "cancelled", None)]
    with store.read() as session:
        nulls = session.execute(select(job_events.c.status).where(job_events.c.data.is_(None))).scalars().all()
    assert nulls == []  # JSON null, not SQL NULL


def test_cancellations_touch_only_queued_jobs(store: Store) -> None:
    agent = enroll(store)
    queued, leased = issue_jobs(store, plan(intent(agent, "a"), intent(agent, "b")), SHA, NOW, TTL)
    lease_jobs(store, agent.agent_id, NOW, timedelta(minutes=5), max_jobs=1)  # takes seq 1: "a"
    issue_jobs(store, plan(cancellations=(cancel(queued, agent), cancel(leased, agent))), SHA, NOW, TTL)
    assert get_job(store, queued, None).state == "leased"
    cancelled = get_job(store, leased, None)
    assert (cancelled.state, cancelled.reason, cancelled.finished_at) == (
        "cancelled", "superseded by a newer plan", NOW)


def test_a_cancellation_naming_the_wrong_agent_is_ignored(store: Store) -> None:
    owner, other = enroll(store, hostname="owner"), enroll(store, hostname="other")
    [job_id] = issue_jobs(store, plan(intent(owner)), SHA, NOW, TTL)
    issue_jobs(store, plan(cancellations=(cancel(job_id, other),)), SHA, NOW, TTL)
    assert get_job(store, job_id, None).state == "queued"


def test_revoked_agents_get_no_jobs(store: Store) -> None:
    kept, gone = enroll(store, hostname="kept"), enroll(store, hostname="gone")
    revoke_agent(store, gone.agent_id, None, now=NOW, actor="ops")
    issued = issue_jobs(store, plan(intent(kept), intent(gone)), SHA, NOW, TTL)
    assert [get_job(store, job_id, None).agent_id for job_id in issued] == [kept.agent_id]


def test_concurrent_plans_never_share_a_seq(store: Store) -> None:
    agent = enroll(store)
    errors: list[BaseException] = []

    def issue(package: str) -> None:
        try:
            for index in range(5):
                issue_jobs(store, plan(intent(agent, f"{package}{index}")), SHA, NOW, TTL)
        except BaseException as error:  # collected and re-raised by the test thread
            errors.append(error)

    threads = [threading.Thread(target=issue, args=(name,)) for name in ("p", "q", "r")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _seqs(store, agent.agent_id) == list(range(1, 16))


def test_latest_jobs_of_many_agents_in_one_go(store: Store) -> None:
    one, two = enroll(store, hostname="one"), enroll(store, hostname="two")
    intents = [*(intent(one, f"p{index}") for index in range(4)), intent(two, "q")]
    issue_jobs(store, plan(*intents), SHA, NOW, TTL)
    latest = latest_jobs(store, None, None, per_agent=2)
    assert {agent: [job.package for job in found] for agent, found in latest.items()} == {
        one.agent_id: ["p3", "p2"], two.agent_id: ["q"]}
    assert list(latest_jobs(store, [two.agent_id], "acme")) == [two.agent_id]
    assert latest_jobs(store, None, "globex") == {}
