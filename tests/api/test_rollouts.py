"""A staged rollout through the real API and agent protocol: waves, a bad version halting, rollback.

Four simulated agents (tests.support.simulated_agents) speak the agent protocol over loopback HTTP, the
controller runs its real reconciler against a real git repository and SQL store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.store import list_alerts, list_audit
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP
from tests.support.gitrepos import commit, init_repo
from tests.support.running import RunningController, make_artifact, run_controller, wait_until
from tests.support.simulated_agents import Agent, leased, wait_for_jobs

DEPLOYMENT = "acme.hello-on-linux"
ROLLOUT = "  rollout: {waves: [{devices: 1}, {percent: 50}, {percent: 100}], failureThreshold: 10}\n"


DEPLOYMENT_YAML = f"""\
---
apiVersion: fleetward/v1
kind: Deployment
metadata: {{name: hello-on-linux}}
spec:
  package: hello-tool
  targets: {{group: linux-boxes}}
{ROLLOUT}"""


def fleet(tmp_path: Path, version: str, *, deployment: bool = True) -> dict[str, str]:
    artifact = make_artifact(tmp_path / "artifacts", f"hello-tool-{version}.tar", {"bin/hello": f"{version}\n"})
    return {
        "clients/acme/client.yaml": ACME_CLIENT,
        "clients/acme/hello.yaml": f"""\
apiVersion: fleetward/v1
kind: Package
metadata: {{name: hello-tool}}
spec:
  version: "{version}"
  installers:
    - {{os: linux, type: archive, url: "{artifact.path.as_uri()}", sha256: "{artifact.sha256}", size: {artifact.size}}}
---
{LINUX_GROUP}""" + (DEPLOYMENT_YAML if deployment else ""),
    }


@pytest.fixture
def rollout(tmp_path: Path, database_url: str) -> Iterator[tuple[RunningController, Path, list[Agent]]]:
    (tmp_path / "artifacts").mkdir()
    repo = init_repo(tmp_path / "fleet")
    empty = commit(repo, fleet(tmp_path, "1.0.0", deployment=False), "hello 1.0.0, not deployed yet")
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(empty)
        agents = [Agent(running, f"pc-{index}") for index in range(4)]
        try:
            sha = commit(repo, fleet(tmp_path, "1.0.0"), "deploy hello 1.0.0")
            running.wait_applied(sha)
            yield running, repo, agents
        finally:
            for agent in agents:
                agent.http.close()


def status(running: RunningController) -> dict:
    with running.api() as api:
        response = api.get(f"/api/deployments/{DEPLOYMENT}/status")
    assert response.status_code == 200, response.text
    return response.json()


def test_three_waves_then_a_bad_version_halts_and_a_rollback_restores(rollout, tmp_path):
    running, repo, agents = rollout
    by_id = {agent.agent_id: agent for agent in agents}
    done: set[str] = set()
    for wave, cumulative in enumerate((1, 2, 4), start=1):
        jobs = wait_for_jobs([a for a in agents if a.agent_id not in done], cumulative - len(done), "1.0.0")
        assert len(jobs) == cumulative - len(done), f"wave {wave} issued {len(jobs)} jobs"
        current = status(running)
        assert current["rollout"]["wave"] == wave
        for agent_id, job in jobs.items():
            by_id[agent_id].report(job, "succeeded", "1.0.0")
            done.add(agent_id)
    wait_until(lambda: status(running)["rollout"]["completed"], timeout=30, what="the rollout completes")
    finished = status(running)
    assert {device["state"] for device in finished["devices"]} == {"converged"}
    assert [(w["wave"], w["devices"]) for w in finished["waves"]] == [(1, 1), (2, 1), (3, 2)]
    history = [(entry["action"], entry["actor_kind"]) for entry in finished["history"]]
    assert history == [("started", "commit"), ("wave-started", "system"), ("wave-started", "system"),
                       ("completed", "system")]
    assert finished["history"][0]["actor"] == "Fleetward Tests <tests@fleetward.invalid>"  # the commit author

    # 2.0.0: the canary succeeds, the next wave fails: more than 10 % failed, so the rollout halts.
    bad = commit(repo, fleet(tmp_path, "2.0.0"), "hello 2.0.0")
    running.wait_applied(bad)
    (canary_id, canary_job), = wait_for_jobs(agents, 1, "2.0.0").items()
    assert canary_job["previous_version"] == "1.0.0"
    by_id[canary_id].report(canary_job, "succeeded", "2.0.0")
    (second_id, second_job), = wait_for_jobs([a for a in agents if a.agent_id != canary_id], 1, "2.0.0").items()
    by_id[second_id].report(second_job, "failed", "1.0.0")
    wait_until(lambda: status(running)["rollout"]["halted"], timeout=30, what="the rollout halts")
    halted = status(running)
    assert "1 of 2 devices failed in waves 1-2" in halted["rollout"]["reason"]
    alerts = list_alerts(running.store, "acme", state="open")
    assert [alert.type for alert in alerts] == ["controller.rollout-halted"]
    assert leased([a for a in agents if a.agent_id not in (canary_id, second_id)]) == {}  # wave 3 never starts

    # A viewer may not roll back; an operator may, and every touched device returns to 1.0.0.
    with running.api(running.token(role="viewer")) as api:
        assert api.post(f"/api/deployments/{DEPLOYMENT}/rollback").status_code == 403
    with running.api(running.token(role="operator", name="ops-bot")) as api:
        response = api.post(f"/api/deployments/{DEPLOYMENT}/rollback", json={"reason": "2.0.0 breaks printing"})
        assert response.status_code == 202, response.text
        assert api.post(f"/api/deployments/{DEPLOYMENT}/rollback").status_code == 409
    (back_id, back_job), = wait_for_jobs([by_id[canary_id]], 1, "1.0.0").items()
    assert (back_id, back_job["action"], back_job["previous_version"]) == (canary_id, "upgrade", "2.0.0")
    by_id[canary_id].report(back_job, "succeeded", "1.0.0")

    def rolled_back() -> bool:
        states = {device["agent_id"]: device["state"] for device in status(running)["devices"]}
        return states[canary_id] == states[second_id] == "rolled-back"
    wait_until(rolled_back, timeout=30, what="both touched devices rolled back")
    final = status(running)
    assert final["rollout"]["halted"] and final["rollout"]["rolled_back_at"] is not None
    transitions = [(entry["action"], entry["actor_kind"], entry["actor"]) for entry in final["history"]]
    assert ("rollback", "api-token", "ops-bot") in transitions
    assert any(entry.action == "deployment.rollback" and entry.actor == "ops-bot"
               for entry in list_audit(running.store, None))

    # A new revision of the Deployment resumes: a fresh rollout starts at wave 1.
    fixed = commit(repo, fleet(tmp_path, "2.0.1"), "hello 2.0.1")
    running.wait_applied(fixed)
    wait_until(lambda: not status(running)["rollout"]["halted"], timeout=30, what="a fresh rollout")
    assert status(running)["rollout"]["wave"] == 1
    wait_until(lambda: not list_alerts(running.store, "acme", state="open"), what="the halt alert cleared")


def test_retry_later_holds_no_wave_and_a_requested_reboot_shows_until_the_device_boots(rollout):
    running, _repo, agents = rollout
    by_id = {agent.agent_id: agent for agent in agents}
    (canary_id, canary_job), = wait_for_jobs(agents, 1, "1.0.0").items()
    canary = by_id[canary_id]
    response = canary.http.post(f"/jobs/{canary_job['job_id']}/events", json={
        "status": "succeeded", "action": "install", "managed": {"package": "hello-tool", "version": "1.0.0"},
        "message": "installed hello-tool 1.0.0; reboot required (soft), requested, not performed",
        "reboot": "soft"})
    assert response.status_code == 200, response.text
    pending = status(running)["reboots"]
    assert list(pending) == [canary_id]
    assert (pending[canary_id]["reboot"], pending[canary_id]["job_id"]) == ("soft", canary_job["job_id"])

    # Wave 2: its device's installer says "not now". More than 10 % of the wave, yet no halt: not a failure.
    (busy_id, busy_job), = wait_for_jobs([a for a in agents if a.agent_id != canary_id], 1, "1.0.0").items()
    response = by_id[busy_id].http.post(f"/jobs/{busy_job['job_id']}/events", json={
        "status": "failed", "action": "install", "reason": "exit code 1618: another installation is in progress",
        "message": "install failed (retry later)", "retry_after_seconds": 600, "reboot": "none"})
    assert response.status_code == 200, response.text

    def deferred() -> bool:
        states = {device["agent_id"]: device["state"] for device in status(running)["devices"]}
        return states[busy_id] == "retry-later"
    wait_until(deferred, timeout=30, what="the device waits for its retry")
    current = status(running)
    assert not current["rollout"]["halted"]
    assert {w["failed"] for w in current["rollout"]["waves"]} == {0}
    assert "asked to retry later" in next(d["reason"] for d in current["devices"] if d["agent_id"] == busy_id)

    # The canary reports a boot after the request: the reboot is no longer pending.
    booted = {"full": False, "agent_id": canary_id, "hardware": {"os": {"last_boot": "2100-01-01T00:00:00Z"}}}
    response = canary.http.post("/inventory", json=booted)
    assert response.status_code == 200, response.text
    wait_until(lambda: status(running)["reboots"] == {}, timeout=30, what="the reboot done")
