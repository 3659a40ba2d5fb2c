"""The real agent process installs and removes a real .deb from a signed job (stub controller, loopback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agent.builders import Signer
from tests.agent.installers.debs import HELLO, build_deb, deb_installer, dpkg_status, native_spec, needs_root_dpkg
from tests.agent.servers import ArtifactServer, StubController

pytestmark = [needs_root_dpkg, pytest.mark.slow]


def test_fleetward_agent_run_once_installs_then_uninstalls_a_deb(cli, controller: StubController, signer: Signer,
                                                                 artifact_server: ArtifactServer, debs: Path,
                                                                 tmp_path: Path) -> None:
    data = tmp_path / "data"
    enrolled = cli("enroll", "--server", controller.base, "--token", controller.token, "--data-dir", str(data))
    assert enrolled.returncode == 0, enrolled.stderr
    v1 = build_deb(debs, "1.0")
    url = artifact_server.add("hello_1.0_all.deb", v1.path.read_bytes())
    install = signer.sign(native_spec(deb_installer(url, v1), seq=1, version="1.0").model_copy(
        update={"agent_id": controller.agent_id}))
    controller.jobs = [install]

    done = cli("run", "--once", "--data-dir", str(data), "--format", "json", timeout=180)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)["jobs"][0]
    assert (job["result"], job["message"]) == ("succeeded", "installed hello-deb 1.0"), job
    assert dpkg_status() == "install ok installed 1.0"
    assert HELLO.read_text() == "hello 1.0\n"
    final = [body for job_id, body in controller.events if job_id == install.job_id][-1]
    assert final["managed"]["version"] == "1.0"
    assert "detect after: packageDb: dpkg fleetward-test-hello: version 1.0" in final["output"]
    managed = [body for body in controller.calls("/inventory") if body.get("managed") is not None][-1]["managed"]
    assert [item["package"] for item in managed] == ["hello-deb"]

    remove = signer.sign(native_spec(deb_installer(url, v1), seq=2, action="uninstall", version="1.0").model_copy(
        update={"agent_id": controller.agent_id}))
    controller.jobs = [remove]
    done = cli("run", "--once", "--data-dir", str(data), "--format", "json", timeout=180)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)["jobs"][0]
    assert (job["result"], job["message"]) == ("succeeded", "uninstalled hello-deb 1.0"), job
    assert not dpkg_status().endswith("installed 1.0")
    assert not HELLO.exists()
