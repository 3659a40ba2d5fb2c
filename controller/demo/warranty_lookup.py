"""The demo's warranty step: Dell credentials sealed into fleet.yaml, a lookup against the
loopback stand-in for Dell's API, the answer read back through the warranty API.

This machine is not a Dell with a service tag Dell would know, so the step enrols one
simulated laptop through the real agent protocol and posts the inventory a Dell laptop's
agent would send (labelled "simulated" wherever it is shown). Everything after that is the
product's own path: the credentials are sealed to the controller's key and committed to the
fleet repository, the controller applies that revision, the lookup takes a token and asks
for the service tag as Dell documents it, the answer is cached in asset_warranties, and an
expiry alert is raised because the stand-in's warranty ends within 90 days.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from controller.demo.fake_warranty import FakeDellApi, dell_asset
from controller.secrets import seal
from controller.serving import Controller
from controller.store import create_enrollment_token
from schemas.protocol import AGENT_API_PREFIX

DEMO_TAG = "DMO7X4Q"
DEMO_MODEL = "Latitude 5440"
DEMO_HOST = "acme-laptop-07 (simulated)"


def show_warranty(controller: Controller, url: str, client: httpx.Client, repo: Path,
                  say: Callable[[str], None]) -> list[str]:
    """Run the warranty step; the lines to print about it."""
    client_id, client_secret = secrets.token_hex(8), secrets.token_urlsafe(24)
    today = date.today()
    asset = dell_asset(DEMO_TAG, DEMO_MODEL, [
        ("Basic Hardware Service", (today - timedelta(days=1050)).isoformat(),
         (today - timedelta(days=3)).isoformat(), "INITIAL"),
        ("ProSupport Plus", (today - timedelta(days=1050)).isoformat(),
         (today + timedelta(days=45)).isoformat(), "EXTENDED"),
    ])
    with FakeDellApi(client_id, client_secret, {DEMO_TAG: asset}, max_lifetime=600) as dell:
        sha = _configure_dell(controller, repo, dell.base_url, client_id, client_secret)
        say(f"Committed sealed Dell TechDirect credentials to fleet.yaml ({sha[:12]}); "
            f"Dell's stand-in API at {dell.base_url}")
        wait_applied(client, controller, sha)
        _simulated_laptop(controller, url)
        response = client.get(f"/api/assets/warranty/{DEMO_TAG}", params={"refresh": "true"}, timeout=60)
        response.raise_for_status()
        record = response.json()
        calls = len(dell.api_calls())
    return [
        f"{DEMO_HOST}: Dell {record.get('model') or DEMO_MODEL}, service tag {DEMO_TAG}: "
        f"{record.get('service_level')} until {record.get('end')} ({record.get('days_left')} days left); "
        f"asked Dell's stand-in API {calls} time(s), cached until {record.get('fresh_until')}",
    ]


def _configure_dell(controller: Controller, repo: Path, base_url: str, client_id: str, client_secret: str) -> str:
    public = controller.sealing_keys.ensure().sealing_key
    fleet = repo / "fleet.yaml"
    text = fleet.read_text(encoding="utf-8")
    block = (f"  warranty:\n    dell:\n      clientId: {seal(client_id, public)}\n"
             f"      clientSecret: {seal(client_secret, public)}\n      baseUrl: {base_url}\n")
    fleet.write_text(text.replace("spec:\n", "spec:\n" + block, 1), encoding="utf-8")
    return commit_all(repo, "Warranty lookups: Dell TechDirect (sealed credentials)")


def commit_all(repo: Path, message: str) -> str:
    """Commit every change in the demo's fleet repository as the demo; the new commit's sha."""
    identity = ["-c", "user.name=Fleetward demo", "-c", "user.email=demo@fleetward.invalid"]
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, timeout=60)
    subprocess.run(["git", "-C", str(repo), *identity, "commit", "-q", "-m", message], check=True, timeout=60)
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.strip()


def wait_applied(client: httpx.Client, controller: Controller, sha: str, timeout: float = 60.0) -> None:
    controller.reconciler.request_fetch()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        applied = client.get("/api/revisions").json().get("applied") or {}
        if applied.get("sha") == sha:
            return
        controller.reconciler.request_fetch()
        time.sleep(0.2)
    raise TimeoutError(f"the controller did not apply {sha[:12]} within {timeout:.0f} s")


def _simulated_laptop(controller: Controller, url: str) -> None:
    """Enrol the simulated laptop and post a Dell laptop's hardware through the agent protocol."""
    token = create_enrollment_token(controller.store, "acme", created_by="demo", now=datetime.now(UTC))
    facts = {"hostname": DEMO_HOST, "os": "windows", "os_version": "Windows 11 Pro 23H2", "arch": "AMD64"}
    with httpx.Client(base_url=url + AGENT_API_PREFIX, timeout=30) as agent:
        enrolled = agent.post("/enroll", json={"token": token, "facts": facts, "labels": {}})
        enrolled.raise_for_status()
        credential = enrolled.json()["credential"]
        hardware = {
            "system": {"manufacturer": "Dell Inc.", "model": DEMO_MODEL, "serial": DEMO_TAG, "chassis": "Notebook"},
            "cpus": [{"model": "13th Gen Intel(R) Core(TM) i5-1345U", "sockets": 1, "cores": 10, "threads": 12}],
            "memory": {"total_bytes": 16 * 2**30},
            "os": {"name": "Windows 11 Pro", "version": "10.0.22631", "arch": "AMD64"},
        }
        sent = agent.post("/inventory", headers={"Authorization": f"Bearer {credential}"},
                          json={"full": True, "facts": facts, "hardware": hardware,
                                "hashes": {"facts": "demo", "hardware": "demo"}})
        sent.raise_for_status()
