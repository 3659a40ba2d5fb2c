"""The check-in's memory of authenticated agents: bounded staleness, forgotten on writes."""

from __future__ import annotations

import httpx

from controller.api.principals import PrincipalCache
from controller.store import AgentPrincipal, jobs_for_agent
from tests.support.running import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def principal(agent_id: str = "a_1", seq: int = 0) -> AgentPrincipal:
    return AgentPrincipal(agent_id, "acme", seq, "none")


def test_entries_expire_within_twice_the_ttl():
    clock = Clock()
    cache = PrincipalCache(ttl=2.0, clock=clock)
    cache.put("fwa_secret", principal())
    assert cache.get("fwa_secret") == principal()
    assert cache.get("fwa_other") is None
    clock.now += 4.01
    assert cache.get("fwa_secret") is None


def test_forget_drops_an_agent_at_once():
    cache = PrincipalCache(ttl=60, clock=Clock())
    cache.put("fwa_one", principal("a_1"))
    cache.put("fwa_two", principal("a_2"))
    cache.forget(["a_1", "a_unknown"])
    assert cache.get("fwa_one") is None
    assert cache.get("fwa_two") == principal("a_2")


def test_size_is_capped():
    cache = PrincipalCache(ttl=60, max_entries=2, clock=Clock())
    for n in range(3):
        cache.put(f"fwa_{n}", principal(f"a_{n}"))
    assert cache.get("fwa_2") is not None
    assert len(cache._entries) <= 2


def test_a_newly_issued_job_shows_at_the_next_check_in(running):
    body = {"token": running.enrolment_token("acme"),
            "facts": {"hostname": "fresh", "os": "linux", "arch": "x86_64"}, "labels": {}}
    enrolled = httpx.post(f"{running.url}/api/agent/v1/enroll", json=body).json()
    headers = {"Authorization": f"Bearer {enrolled['credential']}"}
    with httpx.Client(base_url=f"{running.url}/api/agent/v1", headers=headers) as agent:
        agent.post("/checkin", json={"seen_seq": 0})  # remembered from here on
        wait_until(lambda: jobs_for_agent(running.store, enrolled["agent_id"], None), what="a job")
        assert agent.post("/checkin", json={"seen_seq": 0}).json()["jobs_pending"] is True
