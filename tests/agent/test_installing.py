"""The archive installer on a real data dir: install, upgrade, uninstall, idempotent and all-or-nothing."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from agent.errors import JobRefused
from agent.extracting import Caps
from agent.installing import ArchivePackages
from agent.state import DataDir
from tests.agent.builders import NOW, Artifact, artifact, hello_tar, make_spec, spec_for, tar_file, write_tar
from tests.agent.servers import ArtifactServer


@pytest.fixture
def packages(data_dir: DataDir) -> ArchivePackages:
    return ArchivePackages(data_dir, clock=lambda: NOW, caps=Caps(1000, 10 * 1024 * 1024),
                           allow_insecure_http=False, max_artifact_bytes=10 * 1024 * 1024,
                           download_timeout_seconds=5)


@pytest.fixture
def v1(tmp_path: Path) -> Artifact:
    return hello_tar(tmp_path / "hello-tool-1.0.0.tar.gz", "1.0.0")


@pytest.fixture
def v2(tmp_path: Path) -> Artifact:
    return hello_tar(tmp_path / "hello-tool-2.0.0.tar.gz", "2.0.0")


def _software(data_dir: DataDir) -> list[str]:
    root = data_dir.software_dir / "hello-tool"
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


def test_install_upgrade_uninstall(packages: ArchivePackages, data_dir: DataDir, v1: Artifact,
                                   v2: Artifact) -> None:
    installed = packages.execute(spec_for(v1, seq=1))
    assert (installed.status, installed.message) == ("succeeded", "installed 1.0.0")
    tool = data_dir.software_dir / "hello-tool" / "1.0.0" / "hello" / "bin" / "hello"
    assert subprocess.run([tool], capture_output=True, text=True, check=True).stdout == "hello 1.0.0\n"
    receipt = json.loads((data_dir.receipts_dir / "hello-tool.json").read_text())
    assert receipt == {"package": "hello-tool", "version": "1.0.0", "sha256": v1.sha256,
                       "installed_at": NOW.isoformat().replace("+00:00", "Z"),
                       "path": str(data_dir.software_dir / "hello-tool" / "1.0.0")}
    assert installed.managed is not None and installed.managed.version == "1.0.0"
    # The artifact stays in the download cache, pinned by its hash: a failed upgrade rolls back to it.
    assert [p.name for p in (data_dir.cache_dir / "artifacts").iterdir()] == [v1.sha256]

    upgraded = packages.execute(spec_for(v2, seq=2, action="upgrade", version="2.0.0"))
    assert (upgraded.status, upgraded.message) == ("succeeded", "upgraded from 1.0.0 to 2.0.0")
    assert _software(data_dir) == ["2.0.0"]  # the previous version's folder is gone
    assert sorted(p.name for p in (data_dir.cache_dir / "artifacts").iterdir()) == sorted([v1.sha256, v2.sha256])
    assert upgraded.managed is not None and upgraded.managed.sha256 == v2.sha256

    removed = packages.execute(make_spec(seq=3, action="uninstall", version="2.0.0"))
    assert (removed.status, removed.message, removed.managed) == ("succeeded", "uninstalled 2.0.0", None)
    assert not (data_dir.software_dir / "hello-tool").exists()
    assert not (data_dir.receipts_dir / "hello-tool.json").exists()


def test_running_a_job_twice_succeeds_without_redoing(packages: ArchivePackages, data_dir: DataDir,
                                                      v1: Artifact) -> None:
    spec = spec_for(v1)
    assert packages.execute(spec).status == "succeeded"
    marker = data_dir.software_dir / "hello-tool" / "1.0.0" / "marker"
    marker.write_text("still here")
    v1.path.unlink()  # a second download would fail: proves nothing is fetched again
    again = packages.execute(spec)
    assert (again.status, again.message) == ("succeeded", "already installed")
    assert marker.read_text() == "still here"


def test_uninstalling_what_is_absent_succeeds(packages: ArchivePackages) -> None:
    outcome = packages.execute(make_spec(action="uninstall"))
    assert (outcome.status, outcome.message) == ("succeeded", "already absent")


def test_a_failed_upgrade_keeps_the_installed_version(packages: ArchivePackages, data_dir: DataDir,
                                                      v1: Artifact, v2: Artifact) -> None:
    packages.execute(spec_for(v1))
    outcome = packages.execute(spec_for(v2, seq=2, action="upgrade", version="2.0.0", sha256="f" * 64))
    assert outcome.status == "failed"
    assert "sha256 mismatch" in outcome.reason
    assert "error: " in outcome.output
    assert _software(data_dir) == ["1.0.0"]
    assert outcome.managed is not None and outcome.managed.version == "1.0.0"
    assert outcome.rolled_back_to is None and "1.0.0 is still installed" in outcome.output


def test_an_upgrade_that_unpacks_nothing_rolls_back_from_the_cache(packages: ArchivePackages, data_dir: DataDir,
                                                                   v1: Artifact, tmp_path: Path) -> None:
    assert packages.execute(spec_for(v1)).status == "succeeded"
    v1.path.unlink()  # the rollback cannot fetch it again: it comes from the cache or not at all
    empty = artifact(write_tar(tmp_path / "hello-tool-2.0.0.tar.gz", []))
    phases: list[str] = []
    outcome = packages.execute(spec_for(empty, seq=2, action="upgrade", version="2.0.0"),
                               lambda phase, _percent: phases.append(phase))
    assert (outcome.status, outcome.rolled_back_to) == ("failed", "1.0.0")
    assert outcome.message == "upgrade did not take effect; rolled back to 1.0.0"
    assert outcome.reason.endswith("2.0.0 is empty; the archive unpacked nothing")
    assert phases[-2:] == ["detecting", "rolling-back"]
    assert _software(data_dir) == ["1.0.0"] and outcome.managed is not None and outcome.managed.version == "1.0.0"
    tool = data_dir.software_dir / "hello-tool" / "1.0.0" / "hello" / "bin" / "hello"
    assert subprocess.run([tool], capture_output=True, text=True, check=True).stdout == "hello 1.0.0\n"


def test_a_malicious_archive_fails_the_job_and_installs_nothing(packages: ArchivePackages, data_dir: DataDir,
                                                                tmp_path: Path) -> None:
    path = write_tar(tmp_path / "evil.tar.gz", [tar_file("ok", b"fine"), tar_file("../../../evil", b"x")])
    outcome = packages.execute(spec_for(artifact(path)))
    assert outcome.status == "failed" and "'..' component" in outcome.reason
    assert _software(data_dir) == [] and outcome.managed is None
    assert not (data_dir.receipts_dir / "hello-tool.json").exists()


def test_a_leftover_unpack_without_receipt_is_redone(packages: ArchivePackages, data_dir: DataDir,
                                                     v1: Artifact) -> None:
    stale = data_dir.software_dir / "hello-tool" / "1.0.0"
    stale.mkdir(parents=True)
    (stale / "half-written").write_text("crash")
    assert packages.execute(spec_for(v1)).message == "installed 1.0.0"
    assert not (stale / "half-written").exists()
    assert (stale / "hello" / "README").exists()


def test_install_over_http_from_loopback(packages: ArchivePackages, artifact_server: ArtifactServer,
                                         v1: Artifact) -> None:
    url = artifact_server.add("hello-tool-1.0.0.tar.gz", v1.path.read_bytes())
    outcome = packages.execute(make_spec(url=url, sha256=v1.sha256, size=v1.size))
    assert outcome.status == "succeeded"
    assert f"got {v1.size} bytes" in outcome.output


def test_installed_files_are_not_writable_by_others(packages: ArchivePackages, data_dir: DataDir,
                                                    v1: Artifact) -> None:
    packages.execute(spec_for(v1))
    for path in (data_dir.software_dir / "hello-tool").rglob("*"):
        if not path.is_symlink():
            assert not path.stat().st_mode & stat.S_IWOTH, path


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"name": "../../etc"}, "not a DNS label", id="name-with-path"),
        pytest.param({"version": "1.0/../../x"}, "characters a version may not have", id="version-with-path"),
        pytest.param({"os": "windows"}, "installer is for windows", id="other-os"),
    ],
)
def test_jobs_this_agent_must_not_act_on_are_refused(packages: ArchivePackages, data_dir: DataDir,
                                                     fields: dict[str, str], reason: str) -> None:
    with pytest.raises(JobRefused, match=reason):
        packages.execute(make_spec(**fields))  # type: ignore[arg-type]
    assert list(data_dir.software_dir.iterdir()) == []
