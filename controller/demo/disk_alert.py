"""The demo's alert step: a real disk-space alert from a sandboxed agent, ticketed in the built-in
store and at a loopback stand-in for ConnectWise.

One commit does what an MSP would do: ConnectWise credentials sealed to the controller's key
in ``fleet.yaml``, an ``AlertTicketRule`` routing Globex's ``agent.disk`` alerts to it, and a
disk threshold in ``clients/globex/client.yaml`` no disk can meet (``warningFreeGib``), so the
agent trips on this machine's real disks without anything being filled. The agent fetches
the thresholds at its next check-in and raises the alert the cycle after; the controller's
rule opens a ticket and the outbox delivers it. The step then reads the ticket back from the
stand-in over HTTP, as ConnectWise documents ``GET /service/tickets/{id}``.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from controller.demo.fake_psa import FakeConnectWise
from controller.demo.warranty_lookup import commit_all, wait_applied
from controller.errors import ConfigError
from controller.secrets import seal
from controller.serving import Controller

CLIENT = "globex"
AGENT = "globex-srv-01"
CONNECTOR = "globex-cw"
PSA_COMPANY = "GLOBEX"
BOARD = "Alerts"
TRIP_GIB = 1_000_000
"""GiB free demanded by the demo's threshold: the schema's maximum, far beyond any disk."""

RULE = f"""\
apiVersion: fleetward/v1
kind: AlertTicketRule
metadata:
  name: low-disk
spec:
  description: Low disk space on a Globex machine is a ticket in Globex's ConnectWise.
  match:
    alertTypes: [agent.disk]
  title: "Low disk space on {{{{ device.hostname }}}} ({{{{ client.name }}}})"
  body: "{{{{ alert.message }}}}"
  routing:
    connector: {CONNECTOR}
    priority: high
  onClear: resolve
"""


def show_disk_alert(controller: Controller, client: httpx.Client, repo: Path, agents: Path,
                    say: Callable[[str], None], timeout: float = 60.0) -> list[str]:
    """Run the alert step with the demo agent ``AGENT`` (its data dir under ``agents``); the lines to print."""
    company, public_key, client_id = "northwind", secrets.token_hex(6), secrets.token_hex(8)
    private_key = secrets.token_urlsafe(18)
    with FakeConnectWise(company_id=company, public_key=public_key, private_key=private_key, client_id=client_id,
                         max_lifetime=max(120.0, timeout * 2)) as psa:
        sealing_key = controller.sealing_keys.ensure().sealing_key
        connector = (f"  tickets:\n    connectors:\n      {CONNECTOR}:\n        type: connectwise\n"
                     f"        baseUrl: {psa.api_url}\n        companyId: {company}\n"
                     f"        publicKey: {seal(public_key, sealing_key)}\n"
                     f"        privateKey: {seal(private_key, sealing_key)}\n"
                     f"        clientId: {seal(client_id, sealing_key)}\n"
                     f"        board: {BOARD}\n        company: {PSA_COMPANY}\n")
        _insert_under_spec(repo / "fleet.yaml", connector)
        client_yaml = repo / "clients" / CLIENT / "client.yaml"
        client_yaml.write_text(client_yaml.read_text(encoding="utf-8").rstrip("\n")
                               + f"\n  monitors:\n    disk:\n      warningFreeGib: {TRIP_GIB}\n", encoding="utf-8")
        (repo / "clients" / CLIENT / "low-disk.yaml").write_text(RULE, encoding="utf-8")
        sha = commit_all(repo, f"Globex: tickets for low disk space go to ConnectWise; disk threshold "
                               f"{TRIP_GIB} GiB free (trips on any disk, for the demo)")
        say(f"Committed a low-disk ticket rule, sealed ConnectWise credentials and a disk threshold that trips "
            f"({sha[:12]}); ConnectWise's stand-in API at {psa.api_url}")
        wait_applied(client, controller, sha)

        # The first cycle fetches the new thresholds (the monitors ran on the ones held before);
        # the second raises the alert and sends it right after its check-in.
        raised: list[str] = []
        for _cycle in range(3):
            changed = _agent_cycle(agents / AGENT)
            raised = [change.removeprefix("raised disk ") for change in changed if change.startswith("raised disk ")]
            if raised:
                break
        if not raised:
            raise ConfigError(f"demo agent {AGENT} raised no disk alert under a {TRIP_GIB} GiB threshold")
        say(f"  {AGENT}: raised disk alert for {', '.join(raised)}")
        ticket = _delivered_ticket(client, timeout)
        detail = client.get(f"/api/service-requests/{ticket['id']}").json()
        alert = detail["source_alert"]
        at_psa = httpx.get(f"{psa.api_url}/service/tickets/{ticket['external_id']}",
                           auth=(f"{company}+{public_key}", private_key), headers={"clientId": client_id},
                           timeout=10)
        at_psa.raise_for_status()
        held = at_psa.json()
    return [
        f"Alert #{alert['id']} [{alert['severity']}] {alert['type']} from {AGENT} ({CLIENT}): {alert['message']}",
        f"Ticket #{ticket['id']} in the built-in store: \"{ticket['title']}\" - state {ticket['state']}, "
        f"priority {ticket['priority']}, rule {ticket['rule']}, sent to {ticket['connector']}",
        f"At the ConnectWise stand-in (GET /service/tickets/{ticket['external_id']}): ticket {held['id']} "
        f"\"{held['summary']}\" on board {held['board']['name']}, company {held['company']['identifier']}, "
        f"status {held['status']['name']}",
    ]


def _insert_under_spec(path: Path, block: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("spec:\n", "spec:\n" + block, 1), encoding="utf-8")


def _agent_cycle(agent_dir: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "agent", "run", "--once", "--format", "json",
                           "--data-dir", str(agent_dir)], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise ConfigError(f"demo agent {AGENT}: cycle failed: {done.stderr.strip()}")
    changed: list[str] = json.loads(done.stdout)["alerts"]["changed"]
    return changed


def _delivered_ticket(client: httpx.Client, timeout: float) -> dict[str, Any]:
    """Globex's ticket once the outbox has delivered it to the PSA (it has an external id then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ticket in client.get("/api/service-requests", params={"client": CLIENT}).json()["items"]:
            if ticket["external_id"]:
                found: dict[str, Any] = ticket
                return found
        time.sleep(0.2)
    raise TimeoutError(f"no ticket for {CLIENT} reached the ConnectWise stand-in within {timeout:.0f} s")
