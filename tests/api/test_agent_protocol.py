"""The agent protocol over real HTTP: enrolment, signed jobs, scoping, caps, long-poll."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from controller.store import create_enrollment_token, list_agents, list_audit, revoke_token
from schemas.jobs import JOB_SIGNATURE_CONTEXT
from tests.support.running import wait_until

PREFIX = "/api/agent/v1"


def enrol(running, token: str, hostname: str = "web-01", os: str = "linux") -> httpx.Response:
    body = {"token": token, "facts": {"hostname": hostname, "os": os, "arch": "x86_64"}, "labels": {}}
    return httpx.post(f"{running.url}{PREFIX}/enroll", json=body, timeout=10)


def as_agent(running, credential: str) -> httpx.Client:
    return httpx.Client(base_url=f"{running.url}{PREFIX}", timeout=30,
                        headers={"Authorization": f"Bearer {credential}"})


def test_enrolment_gives_identity_keys_and_a_first_signed_job(running):
    response = enrol(running, running.enrolment_token("acme"))
    assert response.status_code == 201
    enrolled = response.json()
    assert enrolled["client"] == "acme" and enrolled["agent_id"].startswith("a_")
    (key,) = enrolled["signing_keys"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    with as_agent(running, enrolled["credential"]) as agent:
        wait_until(lambda: agent.post("/checkin", json={"seen_seq": 0}).json()["jobs_pending"],
                   what="a pending job")
        lease = agent.post("/jobs/lease", json={"wait_seconds": 0}).json()
    (job,) = lease["jobs"]
    public.verify(base64.b64decode(job["signature"]), JOB_SIGNATURE_CONTEXT + job["payload"].encode())
    spec = json.loads(job["payload"])
    assert (spec["agent_id"], spec["action"], spec["package"]["name"]) == (
        enrolled["agent_id"], "install", "hello-tool")
    assert datetime.fromisoformat(spec["expires_at"]) > datetime.now(UTC)
    assert lease["seq_high"] == spec["seq"] == 1


def _expired(running) -> str:
    return create_enrollment_token(running.store, "acme", created_by="tests",
                                   now=datetime.now(UTC) - timedelta(days=8))


def _revoked(running) -> str:
    token = running.enrolment_token("acme")
    _prefix, kind, hex_id, _secret = token.split("_", 3)
    revoke_token(running.store, f"{kind}_{hex_id}", now=datetime.now(UTC))
    return token


def _used_up(running) -> str:
    token = running.enrolment_token("acme", max_uses=1)
    assert enrol(running, token, hostname="first").status_code == 201
    return token


@pytest.mark.parametrize("make_token", [
    pytest.param(lambda running: "fwe_nope_nope", id="unknown"),
    pytest.param(lambda running: running.enrolment_token("acme")[:-2] + "xx", id="wrong-secret"),
    pytest.param(_expired, id="expired"),
    pytest.param(_revoked, id="revoked"),
    pytest.param(_used_up, id="used-up"),
])
def test_bad_enrolment_token_is_refused_and_creates_no_agent(running, make_token):
    token = make_token(running)
    before = len(list_agents(running.store, None))
    response = enrol(running, token, hostname="intruder")
    assert response.status_code == 401
    assert response.json()["code"] in {"access_denied", "enrollment_refused"}
    assert "intruder" not in {agent.hostname for agent in list_agents(running.store, None)}
    assert len(list_agents(running.store, None)) == before


def test_bad_credential_is_401_with_a_stable_code(running):
    with as_agent(running, "fwa_a_00_nope") as agent:
        response = agent.post("/checkin", json={"seen_seq": 0})
    assert response.status_code == 401
    assert response.json()["code"] == "agent_unauthorized"


def test_reporting_on_another_agents_job_is_refused_and_audited(running):
    first = enrol(running, running.enrolment_token("acme"), hostname="one").json()
    second = enrol(running, running.enrolment_token("globex"), hostname="two").json()
    with as_agent(running, first["credential"]) as agent:
        wait_until(lambda: agent.post("/jobs/lease", json={}).json()["jobs"], what="a job")
        job_id = agent.post("/jobs/lease", json={}).json()["jobs"][0]["job_id"]
    with as_agent(running, second["credential"]) as other:
        response = other.post(f"/jobs/{job_id}/events", json={"status": "succeeded"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    audit = [record for record in list_audit(running.store, None, 100) if job_id in record.target]
    assert audit and audit[0].actor == second["agent_id"]


def test_a_restarted_agent_gets_its_leased_job_again(running):
    enrolled = enrol(running, running.enrolment_token("acme")).json()
    with as_agent(running, enrolled["credential"]) as agent:
        first = wait_until(lambda: agent.post("/jobs/lease", json={}).json()["jobs"], what="a job")
        again = agent.post("/jobs/lease", json={}).json()["jobs"]
    assert [j["job_id"] for j in again] == [j["job_id"] for j in first]


@pytest.mark.parametrize(("path", "size", "status"), [
    pytest.param("/checkin", 70 * 1024, 413, id="checkin-over-64k"),
    pytest.param("/inventory", 70 * 1024, 422, id="inventory-allows-more-but-validates"),
    pytest.param("/inventory", 9 * 1024 * 1024, 413, id="inventory-over-8m"),
])
def test_request_bodies_are_capped(running, path, size, status):
    enrolled = enrol(running, running.enrolment_token("acme")).json()
    body = json.dumps({"padding": "x" * size})
    with as_agent(running, enrolled["credential"]) as agent:
        response = agent.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    if status == 413:
        assert response.json()["code"] == "body_too_large"


def test_long_poll_returns_as_soon_as_a_job_is_issued(running):
    enrolled = enrol(running, running.enrolment_token("acme"), hostname="late").json()
    with as_agent(running, enrolled["credential"]) as agent:
        started = time.monotonic()
        lease = agent.post("/jobs/lease", json={"wait_seconds": 20}).json()
        elapsed = time.monotonic() - started
    assert lease["jobs"], "the enrolment makes the agent dirty, so a job is issued during the wait"
    assert elapsed < 15


def test_unknown_fields_are_refused_with_the_field_named(running):
    enrolled = enrol(running, running.enrolment_token("acme")).json()
    with as_agent(running, enrolled["credential"]) as agent:
        response = agent.post("/checkin", json={"seen_seq": 0, "sneaky": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["detail"][0]["loc"] == ["body", "sneaky"]
