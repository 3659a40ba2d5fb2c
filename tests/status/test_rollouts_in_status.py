"""Rollout progress on the status branch: per deployment its waves, the active one, a soak, and a halt
shown at the top of the client's page. A real controller writes a real git status branch; simulated
agents (loopback HTTP) report the job results the test chooses."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.fleets import ACME_CLIENT, LINUX_GROUP, deployment_yaml, package_yaml
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller, wait_until
from tests.support.simulated_agents import Agent, wait_for_jobs

WAVES = "waves: [{devices: 1}, {percent: 50}, {percent: 100}], failureThreshold: 10"
HALTED = "> **Rollout halted: `acme.hello-on-linux`** in wave 2 of 3: 1 of 2 devices failed in waves 1-2"


def fleet(version: str, *, rollout: str | None) -> dict[str, str]:
    documents = [package_yaml(version=version), LINUX_GROUP]
    if rollout is not None:
        documents.append(deployment_yaml(rollout=rollout))
    return {"clients/acme/client.yaml": ACME_CLIENT, "clients/acme/hello.yaml": "---\n".join(documents)}


def on_status_branch(repo: Path, path: str) -> str:
    shown = subprocess.run(["git", "-C", str(repo), "show", f"fleetward/status:{path}"], capture_output=True,
                           text=True, check=False)
    return shown.stdout if shown.returncode == 0 else ""


def test_waves_a_soak_and_a_halt_on_the_status_branch(tmp_path: Path, database_url: str) -> None:
    repo = init_repo(tmp_path / "fleet")
    empty = commit(repo, fleet("1.0.0", rollout=None), "hello 1.0.0, not deployed yet")
    with run_controller(str(repo), tmp_path / "controller", database_url, status_interval=0.3) as running:
        running.wait_applied(empty)
        agents = [Agent(running, f"pc-{index}") for index in range(4)]
        by_id = {agent.agent_id: agent for agent in agents}
        try:
            running.wait_applied(commit(repo, fleet("1.0.0", rollout=f"{{{WAVES}, soakMinutes: 60}}"), "deploy"))
            (canary_id, job), = wait_for_jobs(agents, 1, "1.0.0").items()
            by_id[canary_id].report(job, "succeeded", "1.0.0")
            page = wait_until(lambda: (text := on_status_branch(repo, "clients/acme.md")) and
                              "soaking until" in text and text, timeout=30, what="the soak on the status branch")
            assert "## Rollouts" in page and "### `acme.hello-on-linux`" in page
            assert "Wave 1 of 3: wave 1 met its success threshold; soaking until " in page
            assert "| 1 (active) | 1 | 1 | 0 | 0 | 0 | 0 | 0 |" in page
            assert "| 3 | 2 | 0 | 0 | 0 | 0 | 0 | 2 |" in page  # later waves: not started
            assert "Rollout halted" not in page

            # 2.0.0 without a soak: the canary succeeds, wave 2's device fails, and the rollout halts.
            running.wait_applied(commit(repo, fleet("2.0.0", rollout=f"{{{WAVES}}}"), "hello 2.0.0"))
            (canary_id, job), = wait_for_jobs(agents, 1, "2.0.0").items()
            by_id[canary_id].report(job, "succeeded", "2.0.0")
            (second_id, job), = wait_for_jobs([a for a in agents if a.agent_id != canary_id], 1, "2.0.0").items()
            by_id[second_id].report(job, "failed", None)  # it never had 1.0.0: the soak held wave 2
            page = wait_until(lambda: (text := on_status_branch(repo, "clients/acme.md")) and HALTED in text
                              and text, timeout=30, what="the halt on the status branch")
        finally:
            for agent in agents:
                agent.http.close()
    assert page.index(HALTED) < page.index("## Deployments")  # prominent: before everything else
    assert "Wave 2 of 3: **halted**: 1 of 2 devices failed" in page
    assert "| 2 (active) | 1 | 0 | 1 | 0 | 0 | 0 | 0 |" in page
    readme = on_status_branch(repo, "README.md")
    assert "## Halted rollouts" in readme
    assert "| `acme.hello-on-linux` | [acme](clients/acme.md) | 2 of 3 | **halted**: 1 of 2 devices failed" in readme
