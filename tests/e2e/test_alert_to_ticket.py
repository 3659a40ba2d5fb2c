"""A real agent's disk-space alert, end to end into a PSA and back, on SQLite and on PostgreSQL.

A fleet repository in real git names a ConnectWise connector (credentials sealed with
``fleetward seal --server`` against the running controller) and an ``AlertTicketRule`` routing
``agent.disk`` alerts to it; ACME's ``client.yaml`` sets a disk threshold no disk can meet. The
real agent, a subprocess reading this machine's disks, fetches those thresholds, raises the alert
and sends it; the controller opens a ticket in its built-in store and delivers it to the loopback
ConnectWise stand-in. A later commit puts the thresholds back, the agent clears the alert and the
rule's ``onClear: resolve`` resolves the ticket here and at the PSA.

The second test stops the controller, lets the agent raise the alert into its on-disk outbox,
kills the agent outright, restarts the controller and checks the alert still becomes one ticket.

The Fleet's own disk thresholds are set low (2 % / 1 % free) so clearing does not depend on how
full this machine's disks happen to be; the client's ``warningFreeGib`` is what trips.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from controller.secrets import seal as sealing
from controller.serving import BackgroundController, Controller
from controller.settings import ControllerSettings
from tests.support.gitrepos import commit, init_repo
from tests.support.running import AgentProcess, RunningController, run_controller, wait_until
from tests.tickets.servers import CW_PREFIX, FakeConnectWise

CW = {"company_id": "msp", "public_key": "pub-e2e-7Qx", "private_key": "cw-priv-e2e-SECRET-4411",
      "client_id": "cid-e2e-90ab"}
TICKETS_PATH = CW_PREFIX + "/service/tickets"
NO_DISK_HAS_THIS_MUCH_FREE = "1000000"  # GiB: the schema's maximum, far beyond any disk

CLIENT_NORMAL = """\
apiVersion: fleetward/v1
kind: Client
metadata: {name: acme}
spec: {displayName: ACME Corp, timezone: Europe/Berlin}
"""
CLIENT_TRIPPING = f"""\
apiVersion: fleetward/v1
kind: Client
metadata: {{name: acme}}
spec:
  displayName: ACME Corp
  timezone: Europe/Berlin
  monitors:
    disk: {{warningFreeGib: {NO_DISK_HAS_THIS_MUCH_FREE}}}
"""
RULE = """\
apiVersion: fleetward/v1
kind: AlertTicketRule
metadata: {name: low-disk}
spec:
  match: {alertTypes: [agent.disk]}
  title: "Low disk space on {{ device.hostname }}"
  body: "{{ alert.message }}"
  routing: {connector: psa, priority: high}
  onClear: resolve
"""


def fleet_yaml(connector: str = "") -> str:
    return f"""\
apiVersion: fleetward/v1
kind: Fleet
metadata: {{name: e2e-msp}}
spec:
  displayName: E2E MSP
  defaults:
    monitors:
      disk: {{warningFreePercent: 2, criticalFreePercent: 1}}
{connector}"""


def connectwise_connector(cw: FakeConnectWise, sealed: dict[str, str]) -> str:
    return f"""\
  tickets:
    connectors:
      psa:
        type: connectwise
        baseUrl: {cw.api_url}
        companyId: {CW["company_id"]}
        publicKey: {sealed["public_key"]}
        privateKey: {sealed["private_key"]}
        clientId: {sealed["client_id"]}
        board: Alerts
        company: ACME
"""


def seal(server: str, value: str) -> str:
    """``fleetward seal --server``, as an admin would run it against the controller."""
    done = subprocess.run([sys.executable, "-m", "controller.cli.main", "seal", "--server", server],
                          input=value, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert value not in done.stdout
    return done.stdout.strip()


def fake_psa() -> FakeConnectWise:
    return FakeConnectWise(**CW, max_lifetime=600.0)


def set_up_fleet(repo: Path, running: RunningController, cw: FakeConnectWise) -> str:
    """Seal the PSA credentials to the running controller and commit connector, rule and thresholds.

    The private key goes through ``fleetward seal --server`` as an admin would; the other two are
    sealed in-process to the same public key (one CLI start is the slow part of this test).
    """
    public = running.controller.sealing_keys.ensure().sealing_key
    sealed = {name: sealing(CW[name], public) for name in ("public_key", "client_id")}
    sealed["private_key"] = seal(running.url, CW["private_key"])
    sha = commit(repo, {"fleet.yaml": fleet_yaml(connectwise_connector(cw, sealed)),
                        "clients/acme/client.yaml": CLIENT_TRIPPING,
                        "clients/acme/low-disk.yaml": RULE},
                 "ConnectWise connector, low-disk tickets, and a disk threshold that trips on ACME")
    running.wait_applied(sha)
    return sha


def creates(cw: FakeConnectWise) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in cw.requests if r.method == "POST" and r.path == TICKETS_PATH]


def _writes(cw: FakeConnectWise) -> int:
    return sum(1 for r in cw.requests if r.method != "GET")


def delivered_ticket(api: Any, client: str = "acme") -> dict[str, Any]:
    """The client's one ticket, once its create reached the PSA."""
    def ready() -> dict[str, Any] | None:
        items = api.get("/api/service-requests", params={"client": client}).json()["items"]
        return items[0] if len(items) == 1 and items[0]["external_id"] else None
    ticket: dict[str, Any] = wait_until(ready, timeout=30, what="the ticket delivered to the PSA")
    return ticket


def test_disk_alert_to_psa_ticket_and_resolved_when_git_calms_it(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    first = commit(repo, {"fleet.yaml": fleet_yaml(), "clients/acme/client.yaml": CLIENT_NORMAL}, "ACME")
    with fake_psa() as cw, run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(first)
        set_up_fleet(repo, running, cw)
        agent = AgentProcess(tmp_path / "agent")
        agent.enroll(running.url, running.enrolment_token("acme"), role="server")

        # The first cycle's monitors ran on the defaults the agent was born with; it then fetches
        # the client's thresholds, and the next cycle raises and sends the alert.
        fetching = agent.once()
        assert fetching["config"]["fetched"] and not _disk(fetching, "raised")
        raising = agent.once()
        raised = _disk(raising, "raised")
        assert raised, raising["alerts"]
        assert raising["alerts"]["queued"] == 0

        with running.api() as api:
            alerts = api.get("/api/alerts", params={"type": "agent.disk", "agent_id": agent.agent_id}).json()
            assert sorted(a["detail"]["subject"] for a in alerts["items"]) == sorted(raised)
            assert {(a["client"], a["state"]) for a in alerts["items"]} == {("acme", "open")}

            ticket = delivered_ticket(api)
            detail = api.get(f"/api/service-requests/{ticket['id']}").json()
            source = detail["source_alert"]
            assert source["type"] == "agent.disk" and source["id"] in {a["id"] for a in alerts["items"]}
            assert source["service_request_id"] == ticket["id"] and ticket["source_alert_id"] == source["id"]
            hostname = api.get(f"/api/agents/{agent.agent_id}").json()["agent"]["hostname"]
            assert (ticket["state"], ticket["priority"], ticket["connector"], ticket["rule"]) == (
                "new", "high", "psa", "acme.low-disk")
            assert ticket["title"] == f"Low disk space on {hostname}" and ticket["body"] == source["message"]
            assert [(d["action"], d["state"]) for d in detail["deliveries"]][:1] == [("create", "delivered")]

        # ConnectWise got exactly one create, with the body its API documents.
        (body,) = creates(cw)
        key = f"fleetward-{ticket['id']}"
        assert body == {
            "summary": f"Low disk space on {hostname}",
            "board": {"name": "Alerts"},
            "company": {"identifier": "ACME"},
            "priority": {"name": "Priority 2 - Quick Response"},
            "initialDescription": f"{source['message']}\n\nDevice: {hostname}\n"
                                  f"Alert: agent.disk ({source['severity']})\nFleetward ticket: {key}",
            "externalXRef": key,
        }
        (psa_ticket,) = cw.tickets.values()
        assert ticket["external_id"] == str(psa_ticket["id"]) and not psa_ticket["closedFlag"]

        # Thresholds back to normal in git: the agent clears, the rule resolves, the PSA hears it.
        calm = commit(repo, {"clients/acme/client.yaml": CLIENT_NORMAL}, "ACME's disk thresholds back to normal")
        running.wait_applied(calm)
        assert agent.once()["config"]["fetched"]
        clearing = agent.once()
        assert sorted(_disk(clearing, "cleared")) == sorted(raised)
        with running.api() as api:
            resolved = wait_until(lambda: _resolve_delivered(api, ticket["id"]), timeout=30,
                                  what="the resolve delivered to the PSA")
            assert resolved["request"]["state"] == "resolved" and resolved["request"]["resolved_at"]
            alerts = api.get("/api/alerts", params={"type": "agent.disk", "agent_id": agent.agent_id}).json()
            assert {a["state"] for a in alerts["items"]} == {"cleared"}
        assert psa_ticket["status"]["name"] == "Resolved" and psa_ticket["closedFlag"]
        resolution = [note for note in cw.notes[psa_ticket["id"]] if note["resolutionFlag"]]
        assert len(resolution) == 1 and "cleared" in resolution[0]["text"]
        assert len(creates(cw)) == 1

        # Nothing new: a quiet cycle, a rules pass and a delivery pass send the PSA nothing more (the
        # ticket sync may still read tickets back: only writes count here).
        written = _writes(cw)
        assert agent.once()["alerts"]["changed"] == []
        running.controller.tickets.run_pass()
        assert running.controller.deliveries.run_pass().delivered == 0
        assert _writes(cw) == written


def test_alert_queued_while_the_controller_is_down_survives_killing_the_agent(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    first = commit(repo, {"fleet.yaml": fleet_yaml(), "clients/acme/client.yaml": CLIENT_NORMAL}, "ACME")
    agent = AgentProcess(tmp_path / "agent")
    with fake_psa() as cw:
        with run_controller(str(repo), tmp_path / "controller", database_url) as running:
            running.wait_applied(first)
            applied = set_up_fleet(repo, running, cw)
            agent.enroll(running.url, running.enrolment_token("acme"))
            assert agent.once()["config"]["fetched"]  # holds the tripping thresholds now
            listen = urlsplit(running.url).netloc
        # The controller is down. The agent service raises the alert, queues it on disk, cannot
        # reach the controller, and is killed without a chance to tidy up.
        outbox = tmp_path / "agent" / "alerts"
        service = subprocess.Popen([sys.executable, "-m", "agent", "run", "--data-dir", str(tmp_path / "agent")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # The monitors' memory is saved only after the cycle's alerts are all queued.
            held = wait_until(lambda: _held_disk_alerts(tmp_path / "agent"), timeout=30,
                              what="the disk alert raised and queued")
        finally:
            service.send_signal(signal.SIGKILL)
            service.wait(timeout=10)
        queued = sorted(outbox.glob("*.json"))
        items = [json.loads(path.read_text()) for path in queued]
        assert sorted(i["subject"] for i in items if (i["monitor"], i["state"]) == ("disk", "raised")) == held

        with _controller_at(listen, str(repo), tmp_path / "controller", database_url) as running:
            running.wait_applied(applied)
            report = agent.once()
            assert report["alerts"]["sent"] == len(queued) and report["alerts"]["queued"] == 0
            assert _disk(report, "raised") == []  # nothing new was raised: the queued one was sent
            assert list(outbox.glob("*.json")) == []
            with running.api() as api:
                ticket = delivered_ticket(api)
                source = api.get(f"/api/service-requests/{ticket['id']}").json()["source_alert"]
            assert source["type"] == "agent.disk" and source["detail"]["subject"] in {i["subject"] for i in items}
        (body,) = creates(cw)
        assert body["externalXRef"] == f"fleetward-{ticket['id']}"


def _disk(report: dict[str, Any], state: str) -> list[str]:
    """The mounts whose disk alert the cycle raised (or cleared)."""
    prefix = f"{state} disk "
    return [change.removeprefix(prefix) for change in report["alerts"]["changed"] if change.startswith(prefix)]


def _held_disk_alerts(agent_dir: Path) -> list[str]:
    """The mounts the agent's saved monitor memory holds a disk alert open for."""
    try:
        memory = json.loads((agent_dir / "monitors.json").read_text())
    except (OSError, ValueError):
        return []
    return sorted(held["subject"] for held in memory.get("open", {}).values() if held["monitor"] == "disk")


def _resolve_delivered(api: Any, ticket_id: int) -> dict[str, Any] | None:
    detail: dict[str, Any] = api.get(f"/api/service-requests/{ticket_id}").json()
    resolves = [d for d in detail["deliveries"] if d["action"] == "resolve"]
    return detail if resolves and all(d["state"] == "delivered" for d in detail["deliveries"]) else None


@contextmanager
def _controller_at(listen: str, repo: str, data_dir: Path, db_url: str) -> Iterator[RunningController]:
    """The controller again, on the address the agent was enrolled with (``run_controller`` picks a new port)."""
    settings = ControllerSettings(data_dir=data_dir, repo=repo, db_url=db_url, listen=listen, fetch_interval=0.5,
                                  status_interval=0.5, checkin_interval=5, full_reconcile_interval=5.0)
    background = BackgroundController(Controller(settings))
    url = background.start()
    try:
        yield RunningController(background.controller, url)
    finally:
        background.stop()
