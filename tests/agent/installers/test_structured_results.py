"""The real agent process reports "retry later" and requested reboots as fields of the job result,
not only in its message (the controller schedules the retry and shows the pending reboot from them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.installers.exitcodes import RETRY_AFTER_SECONDS
from tests.agent.builders import Signer
from tests.agent.installers.debs import native_spec
from tests.agent.servers import StubController

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the script installer uses /bin/sh")


def _script(tmp_path: Path, text: str, codes: dict[int, str]) -> dict[str, object]:
    return {"os": "linux", "type": "script", "script": {"shell": "sh", "text": text}, "exitCodes": codes,
            "detection": [{"type": "file", "path": str(tmp_path / "installed")}]}


def _run(cli, controller: StubController, signer: Signer, data: Path, installer: dict[str, object],
         seq: int) -> dict:
    job = signer.sign(native_spec(installer, seq=seq).model_copy(update={"agent_id": controller.agent_id}))
    controller.jobs = [job]
    done = cli("run", "--once", "--data-dir", str(data), "--format", "json", timeout=120)
    assert done.returncode == 0, done.stderr
    return [body for job_id, body in controller.events if job_id == job.job_id][-1]


def test_retry_later_and_reboot_are_fields_of_the_result(cli, controller: StubController, signer: Signer,
                                                         tmp_path: Path) -> None:
    data = tmp_path / "data"
    enrolled = cli("enroll", "--server", controller.base, "--token", controller.token, "--data-dir", str(data))
    assert enrolled.returncode == 0, enrolled.stderr
    marker = tmp_path / "installed"

    busy = _run(cli, controller, signer, data, _script(tmp_path, "exit 75", {75: "retryLater"}), seq=1)
    assert (busy["status"], busy["message"]) == ("failed", "install failed (retry later)")
    assert (busy["retry_after_seconds"], busy["reboot"]) == (RETRY_AFTER_SECONDS, "none")

    rebooting = _run(cli, controller, signer, data,
                     _script(tmp_path, f"touch {marker}; exit 194", {194: "rebootHard"}), seq=2)
    assert rebooting["status"] == "succeeded", rebooting["output"]
    assert (rebooting["reboot"], rebooting.get("retry_after_seconds")) == ("hard", None)
    assert rebooting["message"].endswith("reboot required (hard), requested, not performed")
    assert rebooting["managed"]["version"] == "1.0"
