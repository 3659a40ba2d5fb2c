"""Enrolment, agent authentication, the cheap check-in, and device labels."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from controller.errors import AccessDenied
from controller.store import (
    Store,
    authenticate_agent,
    checkin,
    create_enrollment_token,
    enroll_agent,
    get_agent,
    issue_jobs,
    list_agents,
    revoke_agent,
    revoke_token,
    stamp_last_seen_many,
)
from schemas.protocol import Facts
from tests.store.builders import NOW, cancel, count, enroll, intent, plan, principal, rows, statements, writes

FACTS = Facts(hostname="pc-1", os="linux", os_version="12", arch="x86_64")


def test_enrolment_creates_an_agent_of_the_tokens_client(store: Store) -> None:
    token = create_enrollment_token(store, "acme", created_by="tests", now=NOW)
    enrolled = enroll_agent(store, token, FACTS, {"site": "berlin"}, NOW)
    assert enrolled.client == "acme"
    assert enrolled.agent_id.startswith("a_") and len(enrolled.agent_id) == 34
    assert enrolled.credential.startswith(f"fwa_{enrolled.agent_id}_")
    agent = get_agent(store, enrolled.agent_id, None)
    assert (agent.hostname, agent.inventory_wanted, agent.last_job_seq) == ("pc-1", "full", 0)
    assert agent.labels == {"site": "berlin"}
    assert "agent.enrolled" in [row["action"] for row in rows(store, "audit_log")]


def test_facts_and_client_win_over_enrolment_labels(store: Store) -> None:
    enrolled = enroll(store, "acme", "pc-1", labels={"client": "globex", "os": "windows", "site": "berlin"})
    agent = get_agent(store, enrolled.agent_id, "acme")
    assert agent.device_labels == {"client": "acme", "os": "linux", "os_version": "12", "arch": "x86_64",
                                   "hostname": "pc-1", "site": "berlin"}


@pytest.mark.parametrize(("spoil", "reason"), [
    pytest.param(lambda store, token: token[:-2] + "AA", "wrong secret", id="wrong-secret"),
    pytest.param(lambda store, token: "fwe_e_0123456789abcdef_" + token[-43:], "unknown token", id="unknown"),
    pytest.param(lambda store, token: "not-a-token", "malformed token", id="malformed"),
    pytest.param(lambda store, token: (revoke_token(store, token[4:22], now=NOW), token)[1], "token revoked",
                 id="revoked"),
])
def test_refused_enrolment_leaves_no_agent_and_an_audit_row(store: Store, spoil, reason: str) -> None:  # type: ignore[no-untyped-def]
    token = create_enrollment_token(store, "acme", created_by="tests", now=NOW)
    with pytest.raises(AccessDenied, match="enrolment token"):
        enroll_agent(store, spoil(store, token), FACTS, {}, NOW)
    assert count(store, "agents") == 0
    refusal = rows(store, "audit_log")[-1]
    assert refusal["action"] == "agent.enrolment-refused"
    assert refusal["detail"] == {"reason": reason, "hostname": "pc-1"}


def test_expired_enrolment_token_is_refused(store: Store) -> None:
    token = create_enrollment_token(store, "acme", expires_in=timedelta(days=1), created_by="tests", now=NOW)
    with pytest.raises(AccessDenied):
        enroll_agent(store, token, FACTS, {}, NOW + timedelta(days=1, seconds=1))
    assert count(store, "agents") == 0
    assert rows(store, "audit_log")[-1]["detail"]["reason"] == "token expired"
    assert rows(store, "audit_log")[-1]["client"] == "acme"


def test_agent_authenticates_and_revoked_or_wrong_credentials_do_not(store: Store) -> None:
    enrolled = enroll(store)
    found = authenticate_agent(store, enrolled.credential, NOW)
    assert found is not None
    assert (found.agent_id, found.client, found.last_job_seq, found.inventory_wanted) == (
        enrolled.agent_id, "acme", 0, "full")
    assert authenticate_agent(store, enrolled.credential[:-1] + "_", NOW) is None
    assert authenticate_agent(store, "fwa_" + "a" * 80, NOW) is None
    revoke_agent(store, enrolled.agent_id, None, now=NOW, actor="ops")
    assert authenticate_agent(store, enrolled.credential, NOW) is None


def test_authentication_is_one_read_and_writes_last_seen_only_every_30_seconds(store: Store) -> None:
    enrolled = enroll(store)
    with statements(store) as seen:
        for seconds in (1, 10, 29):
            authenticate_agent(store, enrolled.credential, NOW + timedelta(seconds=seconds))
    assert [sql.split()[0] for sql in seen if sql.split()[0] not in ("BEGIN", "COMMIT")] == ["SELECT"] * 3
    assert writes(seen) == []
    assert rows(store, "agents")[0]["last_seen_at"] == NOW
    with statements(store) as seen:
        authenticate_agent(store, enrolled.credential, NOW + timedelta(seconds=31))
    assert [sql for sql in writes(seen) if sql.startswith("UPDATE")] == ["UPDATE AGENTS"]
    assert rows(store, "agents")[0]["last_seen_at"] == NOW + timedelta(seconds=31)


def test_authentication_hands_a_stale_check_in_time_to_the_stamp_given_instead_of_writing(store: Store) -> None:
    enrolled = enroll(store)
    handed: list[tuple[str, datetime]] = []

    def stamp(agent_id: str, when: datetime) -> None:
        handed.append((agent_id, when))

    with statements(store) as seen:
        authenticate_agent(store, enrolled.credential, NOW + timedelta(seconds=10), stamp=stamp)
        authenticate_agent(store, enrolled.credential, NOW + timedelta(seconds=31), stamp=stamp)
    assert writes(seen) == []
    assert handed == [(enrolled.agent_id, NOW + timedelta(seconds=31))]
    assert rows(store, "agents")[0]["last_seen_at"] == NOW


def test_check_in_times_of_many_agents_are_one_statement_and_never_move_back(store: Store) -> None:
    first, second, third = (enroll(store, hostname=f"host-{n}") for n in (1, 2, 3))
    with statements(store) as seen:
        stamp_last_seen_many(store, {first.agent_id: NOW + timedelta(minutes=5),
                                     second.agent_id: NOW - timedelta(minutes=5)})
    assert [sql for sql in writes(seen) if sql.startswith("UPDATE")] == ["UPDATE AGENTS"]
    last_seen = {row["id"]: row["last_seen_at"] for row in rows(store, "agents")}
    assert last_seen == {first.agent_id: NOW + timedelta(minutes=5), second.agent_id: NOW, third.agent_id: NOW}


def test_checkin_reports_pending_jobs_relative_to_seen_seq(store: Store) -> None:
    enrolled = enroll(store)
    assert checkin(store, principal(store, enrolled), 0).jobs_pending is False
    [first] = issue_jobs(store, plan(intent(enrolled)), "r1", NOW, timedelta(hours=1))
    agent = principal(store, enrolled)
    assert agent.last_job_seq == 1
    assert checkin(store, agent, 0).jobs_pending is True
    assert checkin(store, agent, 1).jobs_pending is False  # the agent already finished seq 1
    # A job cancelled before delivery does not keep the agent leasing.
    issue_jobs(store, plan(cancellations=(cancel(first, enrolled),)), "r2", NOW, timedelta(hours=1))
    state = checkin(store, agent, 0)
    assert (state.jobs_pending, state.inventory) == (False, "full")


def test_list_agents_leaves_out_revoked_ones_unless_asked(store: Store) -> None:
    kept = enroll(store, "acme", "b-host")
    gone = enroll(store, "acme", "a-host")
    revoke_agent(store, gone.agent_id, "acme", now=NOW, actor="ops")
    assert [agent.agent_id for agent in list_agents(store, None)] == [kept.agent_id]
    everyone = list_agents(store, None, include_revoked=True)
    assert [agent.hostname for agent in everyone] == ["a-host", "b-host"]
