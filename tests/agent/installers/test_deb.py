"""A real .deb, built with dpkg-deb, served on loopback, installed, upgraded and removed by the agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.installers.deploying import NativePackages
from agent.state import DataDir
from tests.agent.installers.conftest import make_native
from tests.agent.installers.debs import (
    HELLO,
    build_deb,
    deb_installer,
    dpkg_status,
    native_spec,
    needs_root_dpkg,
)
from tests.agent.servers import ArtifactServer

pytestmark = [needs_root_dpkg, pytest.mark.slow]


@pytest.mark.parametrize("use_apt", [pytest.param(False, id="dpkg-only"), pytest.param(True, id="apt-get-present")])
def test_install_upgrade_uninstall_a_real_deb(data_dir: DataDir, debs: Path, artifact_server: ArtifactServer,
                                              use_apt: bool) -> None:
    native = make_native(data_dir, use_apt=use_apt)
    v1, v2 = build_deb(debs, "1.0"), build_deb(debs, "2.0")
    url1 = artifact_server.add("hello_1.0_all.deb", v1.path.read_bytes())
    url2 = artifact_server.add("hello_2.0_all.deb", v2.path.read_bytes())

    installed = native.execute(native_spec(deb_installer(url1, v1), seq=1, version="1.0"))
    assert (installed.status, installed.message) == ("succeeded", "installed hello-deb 1.0"), installed.output
    assert dpkg_status() == "install ok installed 1.0"
    assert HELLO.read_text() == "hello 1.0\n"
    assert "detect before: packageDb: dpkg fleetward-test-hello: not installed" in installed.output
    assert "detect after: packageDb: dpkg fleetward-test-hello: version 1.0" in installed.output
    assert installed.managed is not None and installed.managed.version == "1.0"
    # With apt-get present, a .deb without dependencies still goes through dpkg -i (test_deb_tool.py).
    assert ("installing with dpkg -i: the .deb has no dependencies" in installed.output) is use_apt
    assert "$ apt-get install" not in installed.output

    again = native.execute(native_spec(deb_installer(url1, v1), seq=2, version="1.0"))
    assert (again.status, again.message) == ("succeeded", "already installed")
    assert artifact_server.requested.count("/hello_1.0_all.deb") == 1  # nothing fetched or run again

    upgraded = native.execute(native_spec(deb_installer(url2, v2), seq=3, action="upgrade", version="2.0",
                                          previous="1.0"))
    assert upgraded.status == "succeeded", upgraded.output
    assert upgraded.message == "upgraded hello-deb from 1.0 to 2.0"
    assert dpkg_status() == "install ok installed 2.0"
    assert HELLO.read_text() == "hello 2.0\n"

    removed = native.execute(native_spec(deb_installer(url2, v2), seq=4, action="uninstall", version="2.0"))
    assert (removed.status, removed.message) == ("succeeded", "uninstalled hello-deb 2.0"), removed.output
    assert not dpkg_status().endswith("installed 2.0")
    assert not HELLO.exists()
    assert not (data_dir.receipts_dir / "hello-deb.json").exists()

    absent = native.execute(native_spec(deb_installer(url2, v2), seq=5, action="uninstall", version="2.0"))
    assert (absent.status, absent.message) == ("succeeded", "already absent")


def test_a_hash_mismatch_is_refused_before_dpkg_runs(native: NativePackages, debs: Path,
                                                     artifact_server: ArtifactServer) -> None:
    v1 = build_deb(debs, "1.0")
    url = artifact_server.add("hello.deb", v1.path.read_bytes())
    outcome = native.execute(native_spec({**deb_installer(url, v1), "sha256": "e" * 64}))
    assert outcome.status == "failed"
    assert "sha256 mismatch" in outcome.reason
    assert "$ dpkg" not in outcome.output and "$ apt-get" not in outcome.output
    assert dpkg_status() == ""


def test_pre_and_post_install_scripts_run_around_the_install(native: NativePackages, debs: Path,
                                                             artifact_server: ArtifactServer, tmp_path: Path) -> None:
    v1 = build_deb(debs, "1.0")
    url = artifact_server.add("hello.deb", v1.path.read_bytes())
    trace = tmp_path / "trace"
    pre = {"shell": "sh", "text": f"dpkg-query -W fleetward-test-hello >/dev/null 2>&1 || echo pre-absent >> {trace}"}
    post = {"shell": "bash", "text": f"cat {HELLO} >> {trace}"}
    outcome = native.execute(native_spec(deb_installer(url, v1, preInstall=pre, postInstall=post)))
    assert outcome.status == "succeeded", outcome.output
    assert trace.read_text() == "pre-absent\nhello 1.0\n"


def test_a_failing_post_install_script_fails_the_job(native: NativePackages, debs: Path,
                                                     artifact_server: ArtifactServer) -> None:
    v1 = build_deb(debs, "1.0")
    url = artifact_server.add("hello.deb", v1.path.read_bytes())
    outcome = native.execute(native_spec(deb_installer(url, v1, postInstall={"shell": "sh", "text": "exit 3"})))
    assert outcome.status == "failed"
    assert outcome.reason == "the postinstall script failed: exit code 3"
