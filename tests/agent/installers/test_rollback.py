"""Agent-side rollback with real .deb packages: a failed install restores the cached previous version."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.state import DataDir
from tests.agent.installers.conftest import make_native
from tests.agent.installers.debs import HELLO, build_deb, deb_installer, dpkg_status, native_spec, needs_root_dpkg
from tests.agent.servers import ArtifactServer

pytestmark = [needs_root_dpkg, pytest.mark.slow]

FAILING_POST_INSTALL = {"postInstall": {"shell": "sh", "text": "echo 'smoke test failed' >&2; exit 3"}}


def install_v1_then_fail_v2(data_dir: DataDir, debs: Path, server: ArtifactServer, v2_extra: dict[str, object],
                            *, use_apt: bool = False) -> tuple[list[tuple[str, int | None]], object]:
    native = make_native(data_dir, use_apt=use_apt)
    v1, v2 = build_deb(debs, "1.0"), build_deb(debs, "2.0")
    url1 = server.add("hello_1.0_all.deb", v1.path.read_bytes())
    url2 = server.add("hello_2.0_all.deb", v2.path.read_bytes())
    first = native.execute(native_spec(deb_installer(url1, v1), seq=1, version="1.0"))
    assert first.status == "succeeded", first.output
    phases: list[tuple[str, int | None]] = []
    failed = native.execute(native_spec(deb_installer(url2, v2, **v2_extra), seq=2, action="upgrade",
                                        version="2.0", previous="1.0"),
                            lambda phase, percent: phases.append((phase, percent)))
    return phases, failed


@pytest.mark.parametrize("use_apt", [pytest.param(False, id="dpkg-only"), pytest.param(True, id="apt-get-present")])
def test_a_failed_post_install_restores_the_previous_version(data_dir: DataDir, debs: Path,
                                                              artifact_server: ArtifactServer, use_apt: bool) -> None:
    phases, failed = install_v1_then_fail_v2(data_dir, debs, artifact_server, FAILING_POST_INSTALL, use_apt=use_apt)
    assert failed.status == "failed"  # type: ignore[attr-defined]
    assert failed.rolled_back_to == "1.0"  # type: ignore[attr-defined]
    assert failed.message == "upgrade failed; rolled back to 1.0"  # type: ignore[attr-defined]
    assert "the postinstall script failed: exit code 3; rolled back to 1.0" in failed.reason  # type: ignore[attr-defined]
    assert dpkg_status() == "install ok installed 1.0"
    assert HELLO.read_text() == "hello 1.0\n"
    assert failed.managed is not None and failed.managed.version == "1.0"  # type: ignore[attr-defined]
    # Both steps are reported: the install and then the rollback.
    assert [phase for phase, _ in phases].index("installing") < [phase for phase, _ in phases].index("rolling-back")
    assert ("downloading", 0) in phases and ("downloading", 100) in phases
    assert artifact_server.requested.count("/hello_1.0_all.deb") == 1  # restored from the cache, not fetched


def test_a_failed_detection_after_install_restores_the_previous_version(data_dir: DataDir, debs: Path,
                                                                         artifact_server: ArtifactServer) -> None:
    never = {"detection": [{"type": "file", "path": "/nonexistent/fleetward-never-there"}]}
    _phases, failed = install_v1_then_fail_v2(data_dir, debs, artifact_server, never)
    assert failed.status == "failed" and failed.rolled_back_to == "1.0"  # type: ignore[attr-defined]
    assert "detection still fails" in failed.reason  # type: ignore[attr-defined]
    assert dpkg_status() == "install ok installed 1.0"


def test_no_rollback_when_the_previous_artifact_left_the_cache(data_dir: DataDir, debs: Path,
                                                                artifact_server: ArtifactServer) -> None:
    native = make_native(data_dir)
    v1, v2 = build_deb(debs, "1.0"), build_deb(debs, "2.0")
    url1 = artifact_server.add("hello_1.0_all.deb", v1.path.read_bytes())
    url2 = artifact_server.add("hello_2.0_all.deb", v2.path.read_bytes())
    assert native.execute(native_spec(deb_installer(url1, v1), seq=1, version="1.0")).status == "succeeded"
    for cached in native.cache.root.iterdir():
        cached.unlink()
    failed = native.execute(native_spec(deb_installer(url2, v2, **FAILING_POST_INSTALL), seq=2, action="upgrade",
                                        version="2.0", previous="1.0"))
    assert failed.status == "failed" and failed.rolled_back_to is None
    assert "no rollback: the artifact of 1.0 is no longer in the download cache" in failed.output
    assert dpkg_status() == "install ok installed 2.0"
