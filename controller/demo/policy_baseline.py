"""The demo's policy step: a baseline with one failing check, audited, then enforced and remediated.

ACME's servers get a baseline of two file checks inside the demo agent's own data dir, so the
step is safe on any Linux machine: the agent's credentials file is private (mode 0600, which the
agent itself guarantees: compliant) and a login banner with the expected text and mode 0644
exists (it does not: non-compliant). The banner's remediation is a library Script committed with
the policy. The MSP's way of introducing a baseline is the demo's: first in ``audit`` mode, which
only reports, then switched to ``enforce`` by a second commit, after which the agent runs the
Script and checks again. Compliance is read through ``GET /api/compliance`` after each step, and
the failing check's evidence through the policy's history.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from controller.demo.warranty_lookup import commit_all, wait_applied
from controller.errors import ConfigError
from controller.serving import Controller

CLIENT = "acme"
AGENT = "acme-srv-01"
POLICY = "server-baseline"
POLICY_ID = f"{CLIENT}.{POLICY}"
BANNER_TEXT = "Authorised use only. Activity is monitored."

WRITE_FILE = """\
#!/bin/bash
# Remediation: write a one-line file with the given text and mode (idempotent).
set -euo pipefail
path="${PARAM_path:?}"
mkdir -p -- "$(dirname -- "$path")"
printf '%s\\n' "${PARAM_text:?}" > "$path"
chmod -- "${PARAM_mode:-0644}" "$path"
echo "wrote $path (mode ${PARAM_mode:-0644})"
"""


def baseline_yaml(agent_dir: Path, mode: str) -> str:
    banner = agent_dir / "demo-baseline" / "login-banner"
    return f"""\
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {{name: servers}}
spec:
  selector: {{matchLabels: {{role: server}}}}
---
apiVersion: fleetward/v1
kind: Script
metadata: {{name: write-file}}
spec:
  shell: bash
  file: clients/{CLIENT}/scripts/write-file.sh
  os: [linux, macos]
  category: files
  description: Write a one-line file with the given text and mode.
  timeoutSeconds: 30
  parameters:
    - {{name: path, type: string, required: true}}
    - {{name: text, type: string, required: true}}
    - {{name: mode, type: string, default: "0644"}}
---
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: {POLICY}}}
spec:
  description: The server baseline - private agent credentials and a login banner.
  targets: {{group: servers}}
  mode: {mode}
  schedule: {{cron: "0 6 * * 1-5"}}
  triggers: {{agentStart: false}}
  checks:
    - name: agent-credentials-private
      type: file
      path: {json.dumps(str(agent_dir / "agent.json"))}
      mode: "0600"
    - name: login-banner
      type: file
      path: {json.dumps(str(banner))}
      contains: "^Authorised use only"
      mode: "0644"
      remediation:
        script: write-file
        params: {{path: {json.dumps(str(banner))}, text: {json.dumps(BANNER_TEXT)}}}
"""


def show_policy_baseline(controller: Controller, client: httpx.Client, repo: Path, agents: Path,
                         say: Callable[[str], None], timeout: float = 60.0) -> list[str]:
    """Run the policy step with the demo agent ``AGENT`` (its data dir under ``agents``); the lines to print."""
    agent_dir = (agents / AGENT).resolve()
    folder = repo / "clients" / CLIENT
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    (folder / "scripts" / "write-file.sh").write_text(WRITE_FILE, encoding="utf-8")
    lines: list[str] = []
    for mode, label in (("audit", "before"), ("enforce", "after")):
        (folder / "server-baseline.yaml").write_text(baseline_yaml(agent_dir, mode), encoding="utf-8")
        sha = commit_all(repo, f"ACME: server baseline (private agent credentials, login banner) in {mode} mode")
        say(f"Committed the ACME server baseline in {mode} mode ({sha[:12]})")
        wait_applied(client, controller, sha)
        runs = [run for run in _agent_cycle(agents / AGENT) if run.startswith(POLICY_ID)]
        say(f"  {AGENT}: policy runs: {', '.join(runs) or '(none)'}")
        wanted = "non_compliant" if mode == "audit" else "compliant"
        counts = _counts_when(client, wanted, timeout)
        lines.append(f"Compliance {label} ({mode} mode): {POLICY_ID}: " + ", ".join(
            f"{counts[status]} {status}" for status in ("compliant", "non_compliant", "error", "unknown"))
            + f" of {counts['total']} device(s)")
        lines.extend(f"  {line}" for line in _checks(client))
    return lines


def _agent_cycle(agent_dir: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "agent", "run", "--once", "--format", "json",
                           "--data-dir", str(agent_dir)], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise ConfigError(f"demo agent {AGENT}: cycle failed: {done.stderr.strip()}")
    runs: list[str] = json.loads(done.stdout)["policies"]["runs"]
    return runs


def _counts_when(client: httpx.Client, status: str, timeout: float) -> dict[str, int]:
    """The policy's compliance counts once one device is ``status`` (or whatever they are at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        rollup = client.get("/api/compliance", params={"policy": POLICY_ID})
        rollup.raise_for_status()
        found = {item["policy"]: item["counts"] for item in rollup.json()["policies"]}
        counts: dict[str, int] = found.get(POLICY_ID, {"compliant": 0, "non_compliant": 0, "error": 0,
                                                       "unknown": 0, "total": 0})
        if counts.get(status, 0) >= 1 or time.monotonic() >= deadline:
            return counts
        time.sleep(0.2)


def _checks(client: httpx.Client) -> list[str]:
    """Each check of the latest run: its status (and what remediation did) with the evidence."""
    history = client.get(f"/api/policies/{POLICY_ID}/history", params={"limit": 1})
    history.raise_for_status()
    items: list[dict[str, Any]] = history.json()["items"]
    if not items:
        return ["(no run reported)"]
    lines = []
    for check in items[0]["checks"]:
        status = check["status"]
        if check.get("first_status"):
            status = f"{check['first_status']}, remediated, now {status}"
        lines.append(f"{check['name']}: {status} - {check['evidence']}")
        if check.get("remediation"):
            lines.append(f"  {check['remediation']}")
    return lines
