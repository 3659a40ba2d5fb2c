"""Simulated agents that speak the agent protocol over loopback HTTP and report what a test says.

For tests about the controller's side of a rollout (waves, halts, status), where the outcome of
each job is the test's choice; tests about what the agent does run the real agent process.
"""

from __future__ import annotations

import json

import httpx

from tests.support.running import RunningController, wait_until

PREFIX = "/api/agent/v1"


class Agent:
    """One simulated agent: it leases its jobs and reports what the test says happened."""

    def __init__(self, running: RunningController, hostname: str, client: str = "acme") -> None:
        body = {"token": running.enrolment_token(client), "labels": {},
                "facts": {"hostname": hostname, "os": "linux", "arch": "x86_64"}}
        enrolled = httpx.post(f"{running.url}{PREFIX}/enroll", json=body, timeout=10).json()
        self.agent_id: str = enrolled["agent_id"]
        self.hostname = hostname
        self.http = httpx.Client(base_url=f"{running.url}{PREFIX}", timeout=30,
                                 headers={"Authorization": f"Bearer {enrolled['credential']}"})

    def lease(self) -> list[dict]:
        return [json.loads(job["payload"]) for job in
                self.http.post("/jobs/lease", json={"wait_seconds": 0}).json()["jobs"]]

    def report(self, job: dict, status: str, installed: str | None) -> None:
        managed = {"package": job["package"]["name"], "version": installed} if installed else None
        event = {"status": status, "action": job["action"], "managed": managed,
                 "reason": "exit code 1" if status == "failed" else ""}
        response = self.http.post(f"/jobs/{job['job_id']}/events", json=event)
        assert response.status_code == 200, response.text


def leased(agents: list[Agent]) -> dict[str, dict]:
    return {agent.agent_id: job for agent in agents for job in agent.lease()}


def wait_for_jobs(agents: list[Agent], count: int, version: str) -> dict[str, dict]:
    """Poll until ``count`` agents hold a job for ``version``; returns them by agent id."""
    found: dict[str, dict] = {}

    def enough() -> bool:
        found.update({agent_id: job for agent_id, job in leased(agents).items()
                      if job["package"]["version"] == version})
        return len(found) >= count
    wait_until(enough, timeout=30, what=f"{count} jobs for {version}")
    return found
