"""Rendering the status branch: complete, well-formed and deterministic."""

from __future__ import annotations

from datetime import UTC, datetime

from ruamel.yaml import YAML

from controller.status.rendering import render_status
from controller.status.snapshot import (
    ClientReport,
    DeploymentSummary,
    DeviceReport,
    DeviceTarget,
    JobLine,
    RevisionInfo,
    StatusSnapshot,
)

WHEN = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def snapshot(*, hostname: str = "web-01", reason: str = "sha256 mismatch") -> StatusSnapshot:
    target = DeviceTarget("acme.hello", "hello-tool", "present", "1.1.0", "failed", reason, "1.0.0")
    device = DeviceReport(
        agent_id="a_0123456789abcdef0123456789abcdef", client="acme", hostname=hostname, online=True,
        labels=(("client", "acme"), ("os", "linux")), managed=(("hello-tool", "1.0.0"),),
        targets=(target,),
        recent_jobs=(JobLine("j_1", "upgrade", "hello-tool", "1.1.0", "failed", reason, WHEN),),
    )
    summary = DeploymentSummary("acme.hello", "acme", "hello-tool", "present", "1.1.0",
                                (("failed", 1),))
    return StatusSnapshot(
        applied=RevisionInfo("a" * 40, "Upgrade hello-tool", "Ann <ann@msp.example>", WHEN),
        rejected=(RevisionInfo("b" * 40, "Break things", "Bob", WHEN,
                               ("clients/acme/hello.yaml:7:14: expected a string",)),),
        clients=(ClientReport("acme", "ACME Corp", (device,), (summary,)),),
    )


def test_every_file_of_the_status_branch_is_rendered():
    files = render_status(snapshot())
    assert sorted(files) == [
        "README.md", "clients/acme.md", "devices/acme/web-01_01234567.yaml", "revisions.md"]
    readme = files["README.md"].decode()
    assert "`aaaaaaaaaaaa` Upgrade hello-tool" in readme
    assert "1 newer revision rejected" in readme
    assert "`clients/acme/hello.yaml:7:14: expected a string`" in readme
    assert "[ACME Corp](clients/acme.md) | 1 | 1 | 0 | 1 |" in readme
    assert "clients/acme/hello.yaml:7:14: expected a string" in files["revisions.md"].decode()
    client_page = files["clients/acme.md"].decode()
    assert "| `acme.hello` | hello-tool | present 1.1.0 | 1 | 0 | 0 | 0 | 1 | 0 |" in client_page
    assert "acme.hello: sha256 mismatch" in client_page


def test_rendering_is_deterministic():
    assert render_status(snapshot()) == render_status(snapshot())


def test_device_file_is_valid_yaml_even_with_hostile_text():
    hostile = 'x: "y"\n- [z] # {a}: |b'
    files = render_status(snapshot(hostname="evil: host", reason=hostile))
    (path,) = [p for p in files if p.startswith("devices/")]
    data = YAML(typ="safe").load(files[path])
    assert data["hostname"] == "evil: host"
    assert data["deployments"][0]["reason"] == hostile
    assert data["recentJobs"][0]["finishedAt"] == WHEN.isoformat()
    assert data["managedSoftware"] == [{"package": "hello-tool", "version": "1.0.0"}]


def test_markdown_cells_escape_pipes_and_newlines():
    files = render_status(snapshot(reason="a|b\nc"))
    assert "a\\|b c" in files["clients/acme.md"].decode()


def test_empty_fleet_renders_sensibly():
    files = render_status(StatusSnapshot(applied=None, rejected=(), clients=()))
    assert "No revision has been applied yet." in files["README.md"].decode()


def test_fetch_failure_is_shown_in_the_summary():
    from dataclasses import replace

    files = render_status(replace(snapshot(), source_error="fatal: repository '/srv/fleet' not found"))
    readme = files["README.md"].decode()
    assert "**The repository cannot be fetched**" in readme
    assert "repository '/srv/fleet' not found" in readme


def test_msp_wide_and_rolled_back_rollouts_are_rendered():
    from controller.status.snapshot import RolloutProgress, WaveProgress

    waves = (WaveProgress(1, 1, 1, 0, 0, 0, 0, 0), WaveProgress(2, 9, 3, 0, 5, 1, 0, 0))
    msp = RolloutProgress("chrome", None, 2, waves, halted=False, reason="", completed=False,
                          rolled_back_at=None, soak_until=None)
    back = RolloutProgress("acme.hello", "acme", 2, waves, halted=True, reason="rolled back by ops: breaks printing",
                           completed=False, rolled_back_at=WHEN, soak_until=None)
    base = snapshot()
    acme = base.clients[0]
    files = render_status(StatusSnapshot(
        applied=base.applied, rejected=(), rollouts=(back, msp),
        clients=(ClientReport(acme.name, acme.display_name, acme.devices, acme.deployments, rollouts=(back, msp)),)))
    readme = files["README.md"].decode()
    assert "## MSP-wide rollouts" in readme and "Wave 2 of 2 (MSP-wide: counted over every client): wave 2 running" \
        in readme
    assert "| 2 (active) | 9 | 3 | 0 | 5 | 1 | 0 | 0 |" in readme
    page = files["clients/acme.md"].decode()
    assert "> **Rollout halted: `acme.hello`** in wave 2 of 2: rolled back by ops: breaks printing." in page
    assert "**rolled back** 2026-11-27 09:30 UTC: rolled back by ops: breaks printing" in page
    assert files == render_status(StatusSnapshot(
        applied=base.applied, rejected=(), rollouts=(back, msp),
        clients=(ClientReport(acme.name, acme.display_name, acme.devices, acme.deployments, rollouts=(back, msp)),)))
