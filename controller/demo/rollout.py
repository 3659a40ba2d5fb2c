"""The demo's rollout step: a good version reaches the fleet in three waves; the next one succeeds
at its canary, fails in wave 2 and halts; a fleet-wide rollback returns the canary to the good version.

One MSP-wide Package and Deployment, committed to the demo's fleet repository like any change:
``northwind-probe`` on every Linux box, in waves of one device (the canary), two devices, then
all. Each wave is one device of the demo's three, so the rollout shows every step. The step runs
only the agents that hold a job, one real agent cycle each, and reads the rollout back through
``GET /api/deployments/{id}/status``.

1.0.0 goes out in its three waves. Then 1.1.0, a sound build whose SHA-256 and size are pinned in
the reviewed YAML like any other: the canary installs it (checked on its disk). Before wave 2
runs, the artifact server starts serving a tampered ``northwind-probe-1.1.0.tar`` under the same
name and with the same size - a supply-chain swap, or a corrupted mirror. Wave 2's agent downloads
it, finds that its SHA-256 is not the pinned one and refuses it before unpacking or running
anything, so it stays on 1.0.0. One failure of two counted devices is over the 10 %
``failureThreshold``: the controller halts the rollout and raises ``controller.rollout-halted``,
and wave 3 never gets 1.1.0. The step then calls ``POST /api/deployments/{id}/rollback`` as an
operator would. The controller issues a real job returning the canary from 1.1.0 to 1.0.0 (with
the 1.0.0 installer its earlier jobs used), the canary's agent runs it, and the failed device,
still on 1.0.0, needs none: both show ``rolled-back``, and every device has 1.0.0 on its disk.

Why this failure: it is honest (the agent's own pin check, as on a real fleet, not a failure
injected into the agent) and deterministic with three identical local agents, because what
differs is only what the server hands out between the canary's download and wave 2's. The demo
cycles the canary alone until 1.1.0 is on its disk, so wave 2 cannot fetch the sound build first.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping
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
GOOD, NEXT = "1.0.0", "1.1.0"
HALT_ALERT = "controller.rollout-halted"

_PROBE = """\
#!/bin/sh
# Northwind's health probe, as the MSP ships it to every managed Linux machine.
echo "northwind-probe {version}: $(uptime)"
"""

_SWAPPED_PROBE = """\
#!/bin/sh
# Swapped in at the mirror: never reviewed, never run (the agent refuses it on its SHA-256).
echo "northwind-probe {version}: $(uptime)"; echo 'not the reviewed build' >&2
"""


def probe_files(version: str, *, tampered: bool = False) -> dict[str, bytes]:
    """The files of one build of the probe; ``tampered``: the same names with a different script."""
    script = (_SWAPPED_PROBE if tampered else _PROBE).format(version=version)
    return {"bin/northwind-probe": script.encode(),
            "share/doc/README": f"northwind-probe {version} - the demo's staged rollout.\n".encode()}


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
    builds = {version: build_tar_of(probe_files(version)) for version in (GOOD, NEXT)}
    for version, data in builds.items():
        (store / _artifact(version)).write_bytes(data)
    lines: list[str] = []
    rollout = _Rollout(client, names, agent_dirs, say, timeout)
    with ArtifactServer(store) as server:
        def release(version: str, message: str) -> None:
            (repo / "packages" / f"{PACKAGE}.yaml").write_text(
                _package_yaml(version, f"{server.base_url}{_artifact(version)}", builds[version]), encoding="utf-8")
            (repo / "deployments").mkdir(exist_ok=True)
            (repo / "deployments" / f"{DEPLOYMENT}.yaml").write_text(DEPLOYMENT_YAML, encoding="utf-8")
            sha = commit_all(repo, message)
            say(f"Committed {PACKAGE} {version} ({sha[:12]}): {message}")
            wait_applied(client, controller, sha)

        release(GOOD, f"{PACKAGE} {GOOD} to every Linux machine: canary, then 2 devices, then all")
        done = rollout.drive(lambda status: bool(status["rollout"] and status["rollout"]["completed"]))
        lines.append(f"{GOOD}: {_waves(done)}; rollout completed")

        release(NEXT, f"{PACKAGE} {NEXT} to every Linux machine: canary, then 2 devices, then all")
        # Only the canary runs until 1.1.0 is on its disk: wave 2 must not fetch the sound build.
        canary_on_next = rollout.drive(lambda status: _version_of(status, wave=1) == NEXT, up_to_wave=1)
        canary = names[next(device["agent_id"] for device in canary_on_next["devices"] if device["wave"] == 1)]
        lines.append(f"{NEXT}: canary {canary} succeeded: {rollout.on_disk(canary)}")

        swap = _swap_mirror(store / _artifact(NEXT), f"{server.base_url}{_artifact(NEXT)}", builds[NEXT])
        say(swap)
        lines.append(swap)

        halted = rollout.drive(lambda status: bool(status["rollout"] and status["rollout"]["halted"]))
        for device in sorted(halted["devices"], key=lambda row: names[row["agent_id"]]):
            if device["wave"] == 2:  # the agent refused the download: nothing was unpacked or run
                job = _job(client, rollout.jobs[device["agent_id"]])
                name = names[device["agent_id"]]
                lines.append(f"{NEXT}: wave 2 {name} {device['state']}: job {job['job_id']} {job['state']}: "
                             f"{job['reason']}; {rollout.on_disk(name)}")
        lines.append(f"{NEXT}: halted in wave {halted['rollout']['wave']}: {halted['rollout']['reason']}")
        alert = _halt_alert(client)
        say(f"  alert #{alert['id']} [{alert['severity']}] {alert['type']}: {alert['message']}")
        lines.append(f"Alert #{alert['id']} [{alert['severity']}] {alert['type']}: {alert['message']}")

        response = client.post(f"/api/deployments/{DEPLOYMENT}/rollback",
                               json={"reason": f"{NEXT} refused in wave 2: its artifact does not match the pin"})
        if response.status_code != 202:
            raise ConfigError(f"rollback of {DEPLOYMENT} was refused: {response.status_code} {response.text}")
        say(f"Rolled back {DEPLOYMENT} (POST /api/deployments/{DEPLOYMENT}/rollback): 202")
        touched = {device["agent_id"] for device in halted["devices"]
                   if device["wave"] is not None and device["wave"] <= halted["rollout"]["wave"]}
        rollout.jobs.clear()
        final = rollout.drive(lambda status: all(
            device["state"] == "rolled-back" for device in status["devices"] if device["agent_id"] in touched))
    for agent_id, job_id in sorted(rollout.jobs.items(), key=lambda item: names[item[0]]):
        job = _job(client, job_id)
        lines.append(f"Rollback job {job_id} on {names[agent_id]} (action {job['action']}): {job['package']} "
                     f"{job['previous_version']} -> {job['version']}, {job['state']}")
    back = sorted(names[device["agent_id"]] for device in final["devices"] if device["state"] == "rolled-back")
    lines.append(f"Rollback: {', '.join(back)} back on {GOOD}; "
                 f"rolled back at {final['rollout']['rolled_back_at']}")
    waves = {device["agent_id"]: device["wave"] for device in halted["devices"]}  # a rolled-back rollout has none
    for device in sorted(final["devices"], key=lambda row: names[row["agent_id"]]):
        name = names[device["agent_id"]]
        line = (f"{name} (wave {waves.get(device['agent_id'])}): {PACKAGE} "
                f"{device['installed_version'] or '(none)'}, {device['state']}; {rollout.on_disk(name)}")
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
        self.jobs: dict[str, str] = {}
        """Agent id -> the last job of this deployment seen open on it."""

    def status(self) -> dict[str, Any]:
        response = self.client.get(f"/api/deployments/{DEPLOYMENT}/status")
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    def drive(self, done: Callable[[dict[str, Any]], bool], up_to_wave: int | None = None) -> dict[str, Any]:
        """Cycle the agents holding a job (only those in waves up to ``up_to_wave``, if given) until ``done``."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            status = self.status()
            if done(status):
                return status
            self._announce(status)
            self.jobs.update((agent_id, phase["job_id"]) for agent_id, phase in status["phases"].items())
            holding = sorted(_holding(status, up_to_wave))
            for agent_id in holding:
                self._cycle(self.names[agent_id])
            if not holding:
                time.sleep(0.2)
        raise TimeoutError(f"the rollout of {DEPLOYMENT} did not get there within {self.timeout:.0f} s")

    def on_disk(self, name: str) -> str:
        """The package's version folders in the agent's data dir, each with the version its probe echoes."""
        root = self.agent_dirs[name] / "software" / PACKAGE
        found = []
        for folder in sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else []:
            probe = folder / "bin" / PACKAGE
            script = probe.read_text(encoding="utf-8") if probe.is_file() else ""
            echoed = re.search(rf'echo "{PACKAGE} (\S+):', script)
            found.append(f"{folder.name} (its probe says {echoed[1] if echoed else 'nothing'})")
        return f"on disk: {', '.join(found) or 'nothing'}"

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


def _swap_mirror(path: Path, url: str, reviewed: bytes) -> str:
    """Serve a tampered build at ``path`` in place of the reviewed one; the line saying so."""
    swapped = build_tar_of(probe_files(NEXT, tampered=True))
    if len(swapped) != len(reviewed):  # the size check would catch it first: the demo shows the hash check
        raise ConfigError(f"the tampered {PACKAGE} {NEXT} build is {len(swapped)} bytes, not {len(reviewed)}")
    staged = path.with_name(f".{path.name}.swap")
    staged.write_bytes(swapped)
    staged.replace(path)  # atomic: a download sees one build or the other
    return (f"Mirror swap: {url} now serves a tampered build, same size ({len(swapped)} bytes), "
            f"sha256 {hashlib.sha256(swapped).hexdigest()[:12]}...; "
            f"the reviewed YAML pins {hashlib.sha256(reviewed).hexdigest()[:12]}...")


def _artifact(version: str) -> str:
    return f"{PACKAGE}-{version}.tar"


def _holding(status: dict[str, Any], up_to_wave: int | None) -> Collection[str]:
    """The agents with an open job of the deployment, only those in waves up to ``up_to_wave`` if given."""
    if up_to_wave is None:
        return list(status["phases"])
    allowed = {device["agent_id"] for device in status["devices"]
               if device["wave"] is not None and device["wave"] <= up_to_wave}
    return [agent_id for agent_id in status["phases"] if agent_id in allowed]


def _version_of(status: dict[str, Any], wave: int) -> str | None:
    """The version the controller last saw on the (one) device of ``wave``, if it is converged."""
    for device in status["devices"]:
        if device["wave"] == wave and device["state"] == "converged":
            found: str | None = device["installed_version"]
            return found
    return None


def _waves(status: dict[str, Any]) -> str:
    return ", ".join(f"wave {wave['wave']} {wave['devices']} device{'s' if wave['devices'] != 1 else ''} "
                     + "/".join(f"{count} {state}" for state, count in wave["counts"].items())
                     for wave in status["waves"])


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}")
    response.raise_for_status()
    found: dict[str, Any] = response.json()["job"]
    return found


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
