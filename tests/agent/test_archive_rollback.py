"""The real agent process with archive packages served on loopback: a job waiting for its maintenance
window pre-stages the archive and installs it from the cache in the window; an upgrade whose archive
turns out broken is rolled back from the cached previous version, and both steps are reported."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.agent.builders import Signer, artifact, hello_tar, spec_for, write_tar
from tests.agent.servers import ArtifactServer, StubController

pytestmark = pytest.mark.slow

HELLO = Path("hello") / "bin" / "hello"


def _run(cli, data: Path) -> dict:
    done = cli("run", "--once", "--data-dir", str(data), "--format", "json", timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _events(controller: StubController, job_id: str) -> list[dict]:
    return [body for sent, body in controller.events if sent == job_id]


def test_prestaged_in_advance_installed_in_the_window_then_a_broken_upgrade_rolls_back(
        cli, controller: StubController, signer: Signer, artifact_server: ArtifactServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    enrolled = cli("enroll", "--server", controller.base, "--token", controller.token, "--data-dir", str(data))
    assert enrolled.returncode == 0, enrolled.stderr
    good = hello_tar(tmp_path / "hello-tool-1.0.0.tar.gz", "1.0.0")
    url = artifact_server.add("hello-tool-1.0.0.tar.gz", good.path.read_bytes())

    # The window opens in a few seconds (by the agent's own clock): the first run only downloads.
    opens = datetime.now(UTC) + timedelta(seconds=4)
    install = signer.sign(spec_for(good, seq=1, url=url, agent_id=controller.agent_id).model_copy(
        update={"not_before": opens, "not_after": opens + timedelta(hours=1)}))
    controller.jobs = [install]
    waiting = _run(cli, data)["jobs"][0]
    assert waiting["result"] == "waiting", waiting
    assert not (data / "software" / "hello-tool").exists()
    assert (data / "cache" / "artifacts" / good.sha256).is_file()
    assert [e.get("phase") for e in _events(controller, install.job_id)][-1] == "waiting-for-window"
    artifact_server.routes.clear()  # from now on the archive can only come from the cache
    time.sleep(max(0.0, (opens - datetime.now(UTC)).total_seconds()) + 0.5)
    ran = _run(cli, data)["jobs"][0]
    assert (ran["result"], ran["message"]) == ("succeeded", "installed 1.0.0"), ran
    assert "(cached)" in _events(controller, install.job_id)[-1]["output"]
    tool = data / "software" / "hello-tool" / "1.0.0" / HELLO
    assert subprocess.run([tool], capture_output=True, text=True, check=True).stdout == "hello 1.0.0\n"

    # 2.0.0's archive is empty (a broken build): detection fails, 1.0.0 comes back from the cache.
    broken = tmp_path / "hello-tool-2.0.0.tar.gz"
    write_tar(broken, [])
    bad = artifact(broken)
    upgrade = signer.sign(spec_for(bad, seq=2, action="upgrade", version="2.0.0", agent_id=controller.agent_id,
                                   url=artifact_server.add("hello-tool-2.0.0.tar.gz", broken.read_bytes())))
    controller.jobs = [upgrade]
    failed = _run(cli, data)["jobs"][0]
    assert (failed["result"], failed["message"]) == ("failed", "upgrade did not take effect; rolled back to 1.0.0")
    events = _events(controller, upgrade.job_id)
    assert [e.get("phase") for e in events if e["status"] == "running"][-1] == "rolling-back"
    final = events[-1]
    assert (final["status"], final["rolled_back_to"], final["managed"]["version"]) == ("failed", "1.0.0", "1.0.0")
    assert "rolling back to 1.0.0 from the cached artifact" in final["output"]
    assert sorted(p.name for p in (data / "software" / "hello-tool").iterdir()) == ["1.0.0"]
    assert subprocess.run([tool], capture_output=True, text=True, check=True).stdout == "hello 1.0.0\n"
    assert artifact_server.requested.count("/hello-tool-1.0.0.tar.gz") == 1  # fetched once, when pre-staging
