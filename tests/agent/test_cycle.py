"""One full cycle (``run --once`` without the CLI) against the loopback controller stub."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from agent.cycle import run_once
from agent.errors import CredentialRejected
from agent.inventory import SECTIONS
from agent.journal import Journal
from agent.settings import AgentSettings
from agent.state import DataDir
from schemas.protocol import Facts, SoftwareItem
from tests.agent.builders import NOW, Signer, hello_tar, spec_for
from tests.agent.collectors import quiet
from tests.agent.servers import StubController, error

FACTS = Facts(hostname="pc-1", os="linux", os_version="Debian 12", arch="x86_64")
QUIET = quiet(FACTS)


def _once(settings: AgentSettings):
    return run_once(settings, clock=lambda: NOW, collectors=QUIET)


def test_first_cycle_runs_jobs_then_sends_a_full_inventory(enrolled: DataDir, settings: AgentSettings,
                                                           controller: StubController, signer: Signer,
                                                           tmp_path: Path) -> None:
    art = hello_tar(tmp_path / "hello-tool-1.0.0.tar.gz")
    controller.jobs = [signer.sign(spec_for(art, seq=1))]
    report = _once(settings)

    assert [(job.result, job.package, job.delivered) for job in report.jobs] == [
        ("succeeded", "hello-tool", True)]
    events = f"/jobs/j_{1:032x}/events"
    assert [path for path, _h, _b in controller.requests] == [  # running, 4 phases, the result
        "/checkin", "/jobs/lease", *[events] * 6, "/inventory"]
    (inventory,) = controller.calls("/inventory")
    assert inventory["full"] is True
    # The job's effect shows in the same cycle's inventory.
    assert [item["package"] for item in inventory["managed"]] == ["hello-tool"]
    assert report.inventory_sent == ["facts", "hardware", "licenses", "managed", "network", "software"]
    assert report.inventory_accepted == report.inventory_sent
    assert report.seen_seq == 1 and report.outbox == 0

    as_json = report.as_json()
    assert as_json["jobs"][0] | {"reason": ""} == {
        "id": f"j_{1:032x}", "action": "install", "package": "hello-tool", "version": "1.0.0",
        "result": "succeeded", "reason": "", "message": "installed 1.0.0", "resent": False, "delivered": True}

    second = _once(settings)
    assert second.jobs == [] and second.inventory_sent == []  # nothing new, nothing changed
    assert controller.calls("/checkin")[-1] == {"seen_seq": 1}


def test_asked_for_changes_when_nothing_changed_sends_an_empty_report(enrolled: DataDir,
                                                                     settings: AgentSettings,
                                                                     controller: StubController) -> None:
    _once(settings)
    controller.inventory = "changed"
    report = _once(settings)
    assert report.inventory_sent == []
    assert controller.calls("/inventory")[-1] == {"full": False, "agent_id": enrolled.load_config().agent_id,
                                                  "facts": None, "software": None, "software_delta": None,
                                                  "managed": None, "hardware": None, "licenses": None,
                                                  "network": None, "hashes": {}}


def _lost_result(controller: StubController, signer: Signer, tmp_path: Path, lost: int) -> str:
    """A job whose event posts hit an overloaded controller ``lost`` times."""
    art = hello_tar(tmp_path / "hello-tool-1.0.0.tar.gz")
    job = signer.sign(spec_for(art, seq=1))
    controller.jobs = [job]
    controller.overrides[f"/jobs/{job.job_id}/events"] = [
        error(503, "busy", "try later", **{"Retry-After": "1"}) for _ in range(lost)]
    return job.job_id


def test_a_lost_result_is_resent_from_the_outbox(enrolled: DataDir, settings: AgentSettings,
                                                 controller: StubController, signer: Signer,
                                                 tmp_path: Path) -> None:
    job_id = _lost_result(controller, signer, tmp_path, lost=6)  # "running", its 4 phases and the result
    first = _once(settings)
    assert first.jobs[0].delivered is False and first.outbox == 1

    second = _once(settings)
    assert second.resent == [job_id] and second.outbox == 0 and second.jobs == []
    assert controller.events == [(job_id, controller.events[0][1])]
    assert controller.events[0][1]["status"] == "succeeded"


def test_a_job_leased_again_after_a_lost_result_is_not_rerun(enrolled: DataDir, settings: AgentSettings,
                                                             controller: StubController, signer: Signer,
                                                             tmp_path: Path) -> None:
    job_id = _lost_result(controller, signer, tmp_path, lost=7)  # the outbox flush fails too
    _once(settings)
    (tmp_path / "hello-tool-1.0.0.tar.gz").unlink()  # a re-run would fail to download

    second = _once(settings)
    assert [(job.job_id, job.result, job.resent, job.delivered) for job in second.jobs] == [
        (job_id, "succeeded", True, True)]
    assert [event["status"] for _id, event in controller.events] == ["succeeded"]
    assert Journal(enrolled.journal_dir).outbox() == []


def test_a_full_inventory_is_sent_again_once_a_day(enrolled: DataDir, settings: AgentSettings,
                                                  controller: StubController) -> None:
    run_once(settings, clock=lambda: NOW, collectors=QUIET)
    hour_later = run_once(settings, clock=lambda: NOW + timedelta(hours=1), collectors=QUIET)
    assert hour_later.inventory_sent == []
    day_later = run_once(settings, clock=lambda: NOW + timedelta(days=1), collectors=QUIET)
    assert day_later.inventory_full and day_later.inventory_sent == sorted(SECTIONS)


def test_changed_software_goes_as_a_delta_and_whole_again_when_the_controller_asks(
        enrolled: DataDir, settings: AgentSettings, controller: StubController) -> None:
    installed = [SoftwareItem(name=name, version="1.0", source="dpkg") for name in ("curl", "git", "vim")]
    collectors = replace(QUIET, software=lambda _effort: list(installed))
    run_once(settings, clock=lambda: NOW, collectors=collectors)
    assert [item["name"] for item in controller.calls("/inventory")[-1]["software"]] == ["curl", "git", "vim"]

    installed[1] = SoftwareItem(name="git", version="2.0", source="dpkg")
    later = run_once(settings, clock=lambda: NOW + timedelta(hours=2), collectors=collectors)
    sent = controller.calls("/inventory")[-1]
    assert sent["software"] is None and later.inventory_accepted == ["software"]
    assert [(item["name"], item["version"]) for item in sent["software_delta"]["added"]] == [("git", "2.0")]
    assert [(item["name"], item["version"]) for item in sent["software_delta"]["removed"]] == [("git", "1.0")]

    # A controller that does not hold the delta's base refuses it and asks for everything.
    controller.refuse_deltas = True
    installed.append(SoftwareItem(name="zsh", version="5.9", source="dpkg"))
    refused = run_once(settings, clock=lambda: NOW + timedelta(hours=4), collectors=collectors)
    assert refused.inventory_sent == ["software"] and refused.inventory_accepted == []
    controller.inventory = "full"
    whole = run_once(settings, clock=lambda: NOW + timedelta(hours=4, minutes=1), collectors=collectors)
    assert whole.inventory_full and "software" in whole.inventory_accepted
    assert [item["name"] for item in controller.calls("/inventory")[-1]["software"]] == ["curl", "git", "vim", "zsh"]


def test_a_rejected_credential_stops_the_cycle(enrolled: DataDir, settings: AgentSettings,
                                               controller: StubController) -> None:
    controller.credential = "rotated"
    with pytest.raises(CredentialRejected, match="rejected this agent's credential"):
        _once(settings)
