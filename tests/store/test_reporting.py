"""Agents report progress and results: their own jobs only, results idempotent, receipts kept current."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.errors import Conflict, NotFound
from controller.store import (
    EnrolledAgent,
    Store,
    get_job,
    issue_jobs,
    lease_jobs,
    list_job_events,
    record_job_event,
)
from tests.store.builders import NOW, SHA, enroll, event, intent, plan, rows

TTL = timedelta(hours=1)
LEASE = timedelta(minutes=5)


def _leased_job(store: Store) -> tuple[EnrolledAgent, str]:
    agent = enroll(store)
    [job_id] = issue_jobs(store, plan(intent(agent)), SHA, NOW, TTL)
    lease_jobs(store, agent.agent_id, NOW, LEASE, 10)
    return agent, job_id


@pytest.mark.parametrize("known", [pytest.param(True, id="another-agents-job"),
                                   pytest.param(False, id="unknown-job")])
def test_reporting_on_a_job_that_is_not_yours_is_not_found_and_audited(store: Store, known: bool) -> None:
    owner, job_id = _leased_job(store)
    intruder = enroll(store, "globex", "intruder")
    target = job_id if known else "j_" + "0" * 32
    with pytest.raises(NotFound):
        record_job_event(store, intruder.agent_id, target, event("succeeded"), NOW)
    assert get_job(store, job_id, None).state == "leased"
    audit = rows(store, "audit_log")[-1]
    assert (audit["action"], audit["actor"], audit["client"], audit["target"]) == (
        "job.report-refused", intruder.agent_id, "globex", target)
    whose = "of another agent" if known else "unknown job"
    assert whose in audit["detail"]["message"]
    assert owner.agent_id not in str(audit["detail"])


def test_running_refreshes_the_lease(store: Store) -> None:
    agent, job_id = _leased_job(store)
    agent_id = agent.agent_id
    later = NOW + timedelta(minutes=4)
    assert record_job_event(store, agent_id, job_id, event("running"), later, lease_ttl=LEASE) == "running"
    assert get_job(store, job_id, None).leased_until == later + LEASE


def test_the_same_result_twice_is_accepted_once(store: Store) -> None:
    agent, job_id = _leased_job(store)
    agent_id = agent.agent_id
    assert record_job_event(store, agent_id, job_id, event("failed", reason="exit 3"), NOW) == "failed"
    assert record_job_event(store, agent_id, job_id, event("failed", reason="exit 3"),
                            NOW + timedelta(minutes=1)) == "failed"
    job = get_job(store, job_id, None)
    assert (job.state, job.reason, job.finished_at, job.leased_until) == ("failed", "exit 3", NOW, None)
    assert [item.status for item in list_job_events(store, job_id, None)] == ["queued", "leased", "failed"]


def test_a_different_result_for_a_finished_job_is_a_conflict(store: Store) -> None:
    agent, job_id = _leased_job(store)
    agent_id = agent.agent_id
    record_job_event(store, agent_id, job_id, event("succeeded"), NOW)
    with pytest.raises(Conflict, match="already finished as succeeded"):
        record_job_event(store, agent_id, job_id, event("failed"), NOW)
    assert record_job_event(store, agent_id, job_id, event("running"), NOW) == "succeeded"
    assert get_job(store, job_id, None).state == "succeeded"


def test_a_late_result_for_an_expired_job_is_still_recorded(store: Store) -> None:
    agent, job_id = _leased_job(store)
    agent_id = agent.agent_id
    lease_jobs(store, agent_id, NOW + TTL, LEASE, 10)  # expires it
    assert get_job(store, job_id, None).state == "expired"
    assert record_job_event(store, agent_id, job_id, event("succeeded", managed=("tool", "1.0.0")), NOW) == (
        "succeeded")
    assert "after the job was expired" in get_job(store, job_id, None).reason
    assert [row["version"] for row in rows(store, "managed_software")] == ["1.0.0"]


@pytest.mark.parametrize(("status", "stored_delay"), [pytest.param("failed", 600, id="failed-retry-later"),
                                                     pytest.param("succeeded", None, id="success-is-no-retry")])
def test_retry_later_and_reboot_are_kept_on_the_job(store: Store, status: str, stored_delay: int | None) -> None:
    agent, job_id = _leased_job(store)
    record_job_event(store, agent.agent_id, job_id,
                     event(status, reason="1618", retry_after_seconds=600, reboot="soft"), NOW)
    [job] = [row for row in rows(store, "jobs") if row["id"] == job_id]
    assert (job["retry_after_seconds"], job["reboot"]) == (stored_delay, "soft")
    [result] = [item for item in list_job_events(store, job_id, None) if item.status == status]
    assert result.data is not None and result.data["reboot"] == "soft"


def test_an_older_agents_result_leaves_both_unset(store: Store) -> None:
    agent, job_id = _leased_job(store)
    record_job_event(store, agent.agent_id, job_id, event("failed", reason="install failed (retry later)"), NOW)
    [job] = [row for row in rows(store, "jobs") if row["id"] == job_id]
    assert (job["retry_after_seconds"], job["reboot"]) == (None, None)


def test_results_keep_managed_software_current(store: Store) -> None:
    agent, install = _leased_job(store)
    agent_id = agent.agent_id
    record_job_event(store, agent_id, install, event("succeeded", managed=("tool", "1.0.0")), NOW)
    [row] = rows(store, "managed_software")
    assert (row["agent_id"], row["package"], row["version"]) == (agent_id, "tool", "1.0.0")
    assert row["client"] == "acme"

    [upgrade] = issue_jobs(store, plan(intent(agent, version="2.0.0", action="upgrade")), SHA, NOW, TTL)
    record_job_event(store, agent_id, upgrade, event("failed", managed=("tool", "1.0.0")), NOW)
    assert [row["version"] for row in rows(store, "managed_software")] == ["1.0.0"]
    [retry] = issue_jobs(store, plan(intent(agent, version="2.0.0", action="upgrade")), SHA, NOW, TTL)
    record_job_event(store, agent_id, retry, event("succeeded", managed=("tool", "2.0.0")), NOW)
    assert [row["version"] for row in rows(store, "managed_software")] == ["2.0.0"]

    [uninstall] = issue_jobs(store, plan(intent(agent, action="uninstall")), SHA, NOW, TTL)
    record_job_event(store, agent_id, uninstall, event("succeeded"), NOW)
    assert rows(store, "managed_software") == []
