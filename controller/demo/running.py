"""The demo: a fleet repository from ``examples/``, the controller on SQLite, three local agents.

Everything real, on one machine: a git repository, the controller's HTTP server on a
loopback port, the agent as separate processes with their own data dirs, artifacts
served from a loopback HTTP server. It runs agent cycles until every deployment has
converged, publishes status to the ``fleetward/status`` branch and prints a summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from controller.bundled import bundled_dir
from controller.demo.artifacts import build_artifacts
from controller.demo.disk_alert import show_disk_alert
from controller.demo.policy_baseline import show_policy_baseline
from controller.demo.rollout import show_rollout
from controller.demo.serving_artifacts import ArtifactServer
from controller.demo.warranty_lookup import show_warranty
from controller.errors import ConfigError
from controller.licensing import refresh_licences
from controller.scaffolding import create_repo_from
from controller.serving import BackgroundController, Controller
from controller.settings import ControllerSettings
from controller.store import create_api_token, create_enrollment_token, list_alerts

EXAMPLE_ARTIFACT_BASE = "https://artifacts.example-msp.com/fleet/"


@dataclass(frozen=True)
class DemoAgent:
    name: str
    client: str
    labels: dict[str, str]


DEMO_AGENTS = (
    DemoAgent("acme-ws-01", "acme", {"role": "workstation", "site": "berlin"}),
    DemoAgent("acme-srv-01", "acme", {"role": "server", "site": "berlin"}),
    DemoAgent("globex-srv-01", "globex", {"role": "server", "site": "new-york"}),
)


@dataclass
class DemoResult:
    workdir: Path
    repo: Path
    api_url: str
    converged: bool
    rounds: int
    deployments: list[dict[str, object]] = field(default_factory=list)
    status_readme: str = ""
    agent_software: dict[str, list[str]] = field(default_factory=dict)
    inventory: list[str] = field(default_factory=list)
    """One line per device: hardware summary and how much software its OS reports."""
    alerts: list[str] = field(default_factory=list)
    """Open alerts (licence compliance, warranties) after the run."""
    warranty: list[str] = field(default_factory=list)
    """What the warranty lookup against the stand-in for Dell's API found."""
    disk_alert: list[str] = field(default_factory=list)
    """The real disk-space alert, its ticket in the built-in store, and the same ticket at the
    ConnectWise stand-in."""
    policy_baseline: list[str] = field(default_factory=list)
    """Compliance with ACME's server baseline in audit mode (one check failing) and after enforce
    mode remediated it."""
    rollout: list[str] = field(default_factory=list)
    """The staged rollout: a good version's three waves; the next version on its canary, the tampered
    build wave 2 refuses, the halt and its alert; the rollback's job and each device's version at the
    end, from the API and from its disk."""


def _rewrite_artifact_urls(base_url: str) -> Callable[[Path], None]:
    def rewrite(repo: Path) -> None:
        for path in sorted(repo.rglob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            if EXAMPLE_ARTIFACT_BASE in text:
                path.write_text(text.replace(EXAMPLE_ARTIFACT_BASE, base_url), encoding="utf-8")
    return rewrite


def agent_command(*args: str) -> list[str]:
    """The agent CLI as a separate process, with this interpreter."""
    return [sys.executable, "-m", "agent", *args]


def run_demo(*, workdir: Path | None = None, keep_running: bool = False,
             say: Callable[[str], None] = print, timeout: float = 120.0,
             report: Callable[[DemoResult], None] | None = None) -> DemoResult:
    """Run the demo; ``report`` sees the result once converged (before ``keep_running`` waits)."""
    root = workdir or Path(tempfile.mkdtemp(prefix="fleetward-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    say(f"Demo workspace: {root}")
    artifacts = build_artifacts(bundled_dir("examples") / "artifacts", root / "artifact-store")
    say(f"Built {len(artifacts)} artifacts: " + ", ".join(f"{a.name} ({a.sha256[:12]})" for a in artifacts))
    with ArtifactServer(root / "artifact-store") as store_server:
        repo = root / "fleet-repo"
        sha = create_repo_from(bundled_dir("examples"), repo, message="Demo fleet from examples/",
                               transform=_rewrite_artifact_urls(store_server.base_url))
        say(f"Fleet repository {repo} at {sha[:12]} (artifacts served from {store_server.base_url})")
        settings = ControllerSettings(
            data_dir=root / "controller", repo=str(repo), listen="127.0.0.1:0",
            fetch_interval=5.0, status_interval=1.0, checkin_interval=5,
        )
        controller = Controller(settings)
        runner = BackgroundController(controller)
        url = runner.start()
        say(f"Controller API at {url} (OpenAPI at {url}/docs), SQLite at {settings.database_url}")
        try:
            result = _drive(controller, url, root, repo, say=say, timeout=timeout)
            if report is not None:
                report(result)
            if keep_running:
                _keep_running(controller, url, root, say)
        finally:
            runner.stop()
    return result


def _tokens(controller: Controller) -> tuple[dict[str, str], str]:
    now = datetime.now(UTC)
    enrolment = {client: create_enrollment_token(controller.store, client, created_by="demo", now=now)
                 for client in sorted({agent.client for agent in DEMO_AGENTS})}
    admin = create_api_token(controller.store, name="demo-admin", role="admin", now=now)
    return enrolment, admin


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _drive(controller: Controller, url: str, root: Path, repo: Path, *,
           say: Callable[[str], None], timeout: float) -> DemoResult:
    enrolment, admin = _tokens(controller)
    for agent in DEMO_AGENTS:
        labels = [arg for key, value in sorted(agent.labels.items()) for arg in ("--label", f"{key}={value}")]
        done = _run(agent_command("enroll", "--server", url, "--token", enrolment[agent.client],
                                  "--data-dir", str(root / "agents" / agent.name), *labels))
        if done.returncode != 0:
            raise ConfigError(f"demo agent {agent.name} could not enrol: {done.stderr.strip()}")
        shown = ", ".join(f"{key}={value}" for key, value in agent.labels.items())
        say(f"Enrolled {agent.name} into {agent.client} ({shown})")

    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=10) as client:
        deadline = time.monotonic() + timeout
        rounds = 0
        converged = False
        deployments: list[dict[str, object]] = []
        while time.monotonic() < deadline and not converged:
            rounds += 1
            for agent in DEMO_AGENTS:
                done = _run(agent_command("run", "--once", "--format", "json",
                                          "--data-dir", str(root / "agents" / agent.name)))
                if done.returncode != 0:
                    say(f"  {agent.name}: cycle failed: {done.stderr.strip()}")
                    continue
                report = json.loads(done.stdout)
                for job in report.get("jobs", []):
                    why = f" ({job['reason']})" if job.get("reason") else ""
                    say(f"  {agent.name}: {job['action']} {job['package']} {job['version']} "
                        f"-> {job['result']}{why}")
            deployments = _deployments(client)
            converged = bool(deployments) and all(
                d["devices"] and d["converged"] == d["devices"] for d in deployments)
            if not converged:
                time.sleep(0.5)
    # Licence compliance runs after every applied revision and every few minutes; the installs
    # happened after the apply, so count seats now rather than wait.
    refresh_licences(controller.store, controller.reconciler.applied, datetime.now(UTC))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=10) as client:
        inventory = _inventory(client)
        controller.publisher.publish_once()
        status = subprocess.run(["git", "-C", str(repo), "show", "fleetward/status:README.md"],
                                capture_output=True, text=True, check=False).stdout
        warranty = show_warranty(controller, url, client, repo, say)
        disk_alert = show_disk_alert(controller, client, repo, root / "agents", say)
        policy_baseline = show_policy_baseline(controller, client, repo, root / "agents", say)
        rollout = show_rollout(controller, client, repo, root,
                               {agent.name: root / "agents" / agent.name for agent in DEMO_AGENTS}, say)
    alerts = [f"[{alert.severity}] {alert.client}: {alert.message}"
              for alert in list_alerts(controller.store, None, state="open")]
    software = {
        agent.name: sorted(
            str(path.relative_to(root / "agents" / agent.name / "software"))
            for path in (root / "agents" / agent.name / "software").glob("*/*") if path.is_dir()
        ) if (root / "agents" / agent.name / "software").is_dir() else []
        for agent in DEMO_AGENTS
    }
    return DemoResult(workdir=root, repo=repo, api_url=url, converged=converged, rounds=rounds,
                      deployments=deployments, status_readme=status, agent_software=software,
                      inventory=inventory, alerts=alerts, warranty=warranty,
                      disk_alert=disk_alert, policy_baseline=policy_baseline, rollout=rollout)


def _inventory(client: httpx.Client) -> list[str]:
    """What the asset API knows of each demo device, one line each."""
    lines = []
    for agent in client.get("/api/agents").json()["items"]:
        agent_id = agent["agent_id"]
        software = client.get(f"/api/agents/{agent_id}/inventory/software", params={"limit": 1}).json()
        found = client.get(f"/api/agents/{agent_id}/inventory/hardware")
        if found.status_code != 200:
            lines.append(f"{agent['hostname']} ({agent['client']}): no hardware report yet; "
                         f"{software.get('total', 0)} software packages")
            continue
        hardware = found.json()
        machine = " ".join(filter(None, (hardware["manufacturer"], hardware["model"]))) or "unknown model"
        cpu = f"{hardware['cpu_model'] or 'CPU'} ({hardware['cpu_cores']} cores)"
        lines.append(f"{agent['hostname']} ({agent['client']}): {machine}; {cpu}; "
                     f"{hardware['memory_bytes'] / 2**30:.1f} GiB RAM; {hardware['disk_bytes'] / 1e9:.0f} GB disk; "
                     f"{hardware['os_name']} {hardware['os_version']}; {software['total']} software packages")
    return lines


def _deployments(client: httpx.Client) -> list[dict[str, object]]:
    response = client.get("/api/deployments")
    response.raise_for_status()
    items: list[dict[str, object]] = response.json()["items"]
    return items


def _keep_running(controller: Controller, url: str, root: Path, say: Callable[[str], None]) -> None:
    token = create_api_token(controller.store, name="demo-operator", role="admin", now=datetime.now(UTC))
    processes = [subprocess.Popen(agent_command("run", "--data-dir", str(root / "agents" / agent.name)))
                 for agent in DEMO_AGENTS]
    say(f"\nController and agents keep running. API: {url}  (docs: {url}/docs)")
    say(f"Admin token: {token}")
    say("Commit to the fleet repository to see it applied; press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        say("stopping")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
