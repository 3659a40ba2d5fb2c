"""The demo's rollout step: a good version reaches the fleet in three waves, a bad one halts at its
canary, and a fleet-wide rollback leaves every device on the good version.

One MSP-wide Package and Deployment, committed to the demo's fleet repository like any change:
``northwind-probe`` on every Linux box, in waves of one device (the canary), two devices, then
all. Each wave is one device of the demo's three, so the rollout shows every step. The step runs
only the agents that hold a job, one real agent cycle each, and reads the rollout back through
``GET /api/deployments/{id}/status``.

Version 1.1.0 is broken on purpose: its build also packs ``../../etc/cron.d/northwind-probe``, a
file outside the package's folder, which the agent refuses before it unpacks anything. The
canary's job fails, more than ``failureThreshold`` % of the wave failed, and the controller halts
the rollout and raises ``controller.rollout-halted``: the other two devices never get 1.1.0. The
step then calls ``POST /api/deployments/{id}/rollback`` as an operator would and waits until every
device the rollout touched is back on its previous version. (The archive installer unpacks into a
fresh folder and only then switches, so the failed canary still has 1.0.0: it needs no job and
shows ``rolled-back``; a device that had reached 1.1.0 would get a job returning it to 1.0.0.)
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from controller.demo.artifacts import build_tar_of
from controller.demo.serving_artifacts import ArtifactServer
from controller.demo.warranty_lookup import commit_all, wait_applied
from controller.errors import ConfigError
from controller.serving import Controller

PACKAGE = "northwind-probe"
DEPLOYMENT = "probe-on-linux"
GOOD, BAD = "1.0.0", "1.1.0"
HALT_ALERT = "controller.rollout-halted"

_PROBE = """\
#!/bin/sh
# Northwind's health probe, as the MSP ships it to every managed Linux machine.
echo "northwind-probe {version}: $(uptime)"
"""


def probe_files(version: str) -> dict[str, bytes]:
    """The files of one build of the probe; the bad build also reaches outside its folder."""
    files = {"bin/northwind-probe": _PROBE.format(version=version).encode(),
             "share/doc/README": f"northwind-probe {version} - the demo's staged rollout.\n".encode()}
    if version == BAD:
        files["../../etc/cron.d/northwind-probe"] = b"*/5 * * * * root /opt/northwind-probe/bin/northwind-probe\n"
    return files


def _package_yaml(version: str, url: str, data: bytes) -> str:
    return f"""\
# Northwind's own health probe, on every managed Linux machine.
apiVersion: fleetward/v1
kind: Package
metadata:
  name: {PACKAGE}
spec:
  version: "{version}"
  publisher: Northwind Managed Services
  installers:
    - os: linux
      type: archive
      url: {url}
      sha256: "{hashlib.sha256(data).hexdigest()}"
      size: {len(data)}
"""


DEPLOYMENT_YAML = f"""\
# MSP-wide: every client's Linux machines, one canary first, then two, then all.
apiVersion: fleetward/v1
kind: Deployment
metadata:
  name: {DEPLOYMENT}
spec:
  package: {PACKAGE}
  targets:
    group: linux-boxes
  rollout:
    waves: [{{devices: 1}}, {{devices: 2}}, {{percent: 100}}]
    failureThreshold: 10
"""


def show_rollout(controller: Controller, client: httpx.Client, repo: Path, workdir: Path,
                 agent_dirs: Mapping[str, Path], say: Callable[[str], None], timeout: float = 60.0) -> list[str]:
    """Run the rollout step with the demo's agents (name -> data dir); the lines to print about it."""
    names = {_agent_id(path): name for name, path in agent_dirs.items()}
    store = workdir / "rollout-artifacts"
    store.mkdir(parents=True, exist_ok=True)
    builds = {version: build_tar_of(probe_files(version)) for version in (GOOD, BAD)}
    for version, data in builds.items():
        (store / f"{PACKAGE}-{version}.tar").write_bytes(data)
    lines: list[str] = []
    rollout = _Rollout(client, names, agent_dirs, say, timeout)
    with ArtifactServer(store) as server:
        def release(version: str, message: str) -> None:
            (repo / "packages" / f"{PACKAGE}.yaml").write_text(
                _package_yaml(version, f"{server.base_url}{PACKAGE}-{version}.tar", builds[version]), encoding="utf-8")
            (repo / "deployments").mkdir(exist_ok=True)
            (repo / "deployments" / f"{DEPLOYMENT}.yaml").write_text(DEPLOYMENT_YAML, encoding="utf-8")
            sha = commit_all(repo, message)
            say(f"Committed {PACKAGE} {version} ({sha[:12]}): {message}")
            wait_applied(client, controller, sha)

        release(GOOD, f"{PACKAGE} {GOOD} to every Linux machine: canary, then 2 devices, then all")
        done = rollout.drive(lambda status: bool(status["rollout"] and status["rollout"]["completed"]))
        lines.append(f"{GOOD}: {_waves(done)}; rollout completed")

        release(BAD, f"{PACKAGE} {BAD} (its build packs a file outside its folder)")
        halted = rollout.drive(lambda status: bool(status["rollout"] and status["rollout"]["halted"]))
        lines.append(f"{BAD}: halted in wave {halted['rollout']['wave']}: {halted['rollout']['reason']}")
        alert = _halt_alert(client)
        say(f"  alert #{alert['id']} [{alert['severity']}] {alert['type']}: {alert['message']}")
        lines.append(f"Alert #{alert['id']} [{alert['severity']}] {alert['type']}: {alert['message']}")

        response = client.post(f"/api/deployments/{DEPLOYMENT}/rollback",
                               json={"reason": f"{BAD} refused by its canary"})
        if response.status_code != 202:
            raise ConfigError(f"rollback of {DEPLOYMENT} was refused: {response.status_code} {response.text}")
        say(f"Rolled back {DEPLOYMENT} (POST /api/deployments/{DEPLOYMENT}/rollback): 202")
        touched = {device["agent_id"] for device in halted["devices"]
                   if device["wave"] is not None and device["wave"] <= halted["rollout"]["wave"]}
        final = rollout.drive(lambda status: all(
            device["state"] == "rolled-back" for device in status["devices"] if device["agent_id"] in touched))
    back = sorted(names[device["agent_id"]] for device in final["devices"] if device["state"] == "rolled-back")
    lines.append(f"Rollback: {', '.join(back)} back on {GOOD}; "
                 f"rolled back at {final['rollout']['rolled_back_at']}")
    waves = {device["agent_id"]: device["wave"] for device in halted["devices"]}  # a rolled-back rollout has none
    for device in sorted(final["devices"], key=lambda row: names[row["agent_id"]]):
        line = (f"{names[device['agent_id']]} (wave {waves.get(device['agent_id'])}): {PACKAGE} "
                f"{device['installed_version'] or '(none)'}, {device['state']}")
        say(f"  {line}")
        lines.append(line)
    return lines


class _Rollout:
    """Drives the deployment's rollout: one agent cycle for each device holding a job, until done."""

    def __init__(self, client: httpx.Client, names: Mapping[str, str], agent_dirs: Mapping[str, Path],
                 say: Callable[[str], None], timeout: float) -> None:
        self.client = client
        self.names = names
        self.agent_dirs = agent_dirs
        self.say = say
        self.timeout = timeout
        self.shown: tuple[str, int] | None = None

    def status(self) -> dict[str, Any]:
        response = self.client.get(f"/api/deployments/{DEPLOYMENT}/status")
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    def drive(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            status = self.status()
            if done(status):
                return status
            self._announce(status)
            holding = sorted(status["phases"])
            for agent_id in holding:
                self._cycle(self.names[agent_id])
            if not holding:
                time.sleep(0.2)
        raise TimeoutError(f"the rollout of {DEPLOYMENT} did not get there within {self.timeout:.0f} s")

    def _announce(self, status: dict[str, Any]) -> None:
        rollout = status["rollout"]
        if rollout is None or rollout["halted"] or rollout["completed"]:
            return
        key = (status["deployment"]["version"], rollout["wave"])
        if key == self.shown:
            return
        self.shown = key
        wave = rollout["wave"]
        members = sorted(self.names[device["agent_id"]] for device in status["devices"] if device["wave"] == wave)
        label = " (canary)" if wave == 1 else ""
        self.say(f"  wave {wave} of {len(rollout['waves'])}{label}: {', '.join(members)}")

    def _cycle(self, name: str) -> None:
        done = subprocess.run([sys.executable, "-m", "agent", "run", "--once", "--format", "json",
                               "--data-dir", str(self.agent_dirs[name])],
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise ConfigError(f"demo agent {name}: cycle failed: {done.stderr.strip()}")
        for job in json.loads(done.stdout).get("jobs", []):
            if job.get("package") != PACKAGE:
                continue
            why = f" ({job['reason']})" if job.get("reason") else ""
            self.say(f"    {name}: {job['action']} {job['package']} {job['version']} -> {job['result']}{why}")


def _waves(status: dict[str, Any]) -> str:
    return ", ".join(f"wave {wave['wave']} {wave['devices']} device{'s' if wave['devices'] != 1 else ''} "
                     + "/".join(f"{count} {state}" for state, count in wave["counts"].items())
                     for wave in status["waves"])


def _halt_alert(client: httpx.Client) -> dict[str, Any]:
    for alert in client.get("/api/alerts", params={"type": HALT_ALERT, "state": "open"}).json()["items"]:
        if alert["detail"].get("deployment") == DEPLOYMENT:
            found: dict[str, Any] = alert
            return found
    raise ConfigError(f"the halted rollout of {DEPLOYMENT} raised no {HALT_ALERT} alert")


def _agent_id(data_dir: Path) -> str:
    """The id the demo agent in ``data_dir`` enrolled with (only that field of its identity file)."""
    identity = json.loads((data_dir / "agent.json").read_text(encoding="utf-8"))
    agent_id: str = identity["agent_id"]
    return agent_id
