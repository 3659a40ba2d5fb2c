"""A real .deb goes through ``dpkg -i`` when its dependencies are installed, through apt-get otherwise.

The agent is built as on Debian (apt-get present). Each .deb is built with dpkg-deb, served on
loopback and installed by the whole native job path; the job output says which tool ran and why.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.installers.debtool import choose_deb_tool
from agent.installers.exitcodes import RETRY_AFTER_SECONDS
from agent.installers.processes import run_command
from agent.state import DataDir
from tests.agent.installers.conftest import make_native
from tests.agent.installers.debs import (
    DEB_NAME,
    HELLO,
    build_deb,
    deb_installer,
    dpkg_status,
    native_spec,
    needs_root_dpkg,
    purge,
)
from tests.agent.servers import ArtifactServer

pytestmark = [needs_root_dpkg, pytest.mark.slow]

DPKG_LINE = "$ dpkg --force-confold --force-confdef -i "
APT_LINE = "$ apt-get install -y --allow-downgrades "


@pytest.mark.parametrize(("control", "why"), [
    pytest.param("", "the .deb has no dependencies", id="no-dependencies"),
    pytest.param("Depends: dpkg (>= 1.0), libc6 | fleetward-no-such-package\n", "every dependency is installed",
                 id="installed-at-satisfied-versions"),
    pytest.param("Pre-Depends: dpkg (>= 1.0~)\nDepends: base-files\n", "every dependency is installed",
                 id="pre-depends"),
])
def test_met_dependencies_install_with_dpkg(data_dir: DataDir, debs: Path, artifact_server: ArtifactServer,
                                            control: str, why: str) -> None:
    native = make_native(data_dir, use_apt=True)
    deb = build_deb(debs, "1.0", control)
    url = artifact_server.add("hello.deb", deb.path.read_bytes())
    outcome = native.execute(native_spec(deb_installer(url, deb)))
    assert outcome.status == "succeeded", outcome.output
    assert f"installing with dpkg -i: {why}" in outcome.output
    assert DPKG_LINE in outcome.output and "$ apt-get" not in outcome.output
    assert dpkg_status() == "install ok installed 1.0"
    assert HELLO.read_text() == "hello 1.0\n"


def test_a_virtual_dependency_goes_through_apt_get(data_dir: DataDir, debs: Path,
                                                   artifact_server: ArtifactServer) -> None:
    # awk is provided by mawk (or gawk): apt-get resolves it offline, the agent does not try to.
    native = make_native(data_dir, use_apt=True)
    deb = build_deb(debs, "1.0", "Depends: awk\n")
    url = artifact_server.add("hello.deb", deb.path.read_bytes())
    outcome = native.execute(native_spec(deb_installer(url, deb)))
    assert outcome.status == "succeeded", outcome.output
    assert "installing with apt-get: awk is not installed at a satisfying version" in outcome.output
    assert APT_LINE in outcome.output and DPKG_LINE not in outcome.output
    assert dpkg_status() == "install ok installed 1.0"


@pytest.mark.parametrize(("control", "unmet"), [
    pytest.param("Depends: dpkg (>= 99)\n", "dpkg (>= 99)", id="unsatisfied-version"),
    pytest.param("Depends: fleetward-no-such-package\n", "fleetward-no-such-package", id="missing-package"),
])
def test_unmet_dependencies_go_through_apt_get_which_fails_cleanly(
        data_dir: DataDir, debs: Path, artifact_server: ArtifactServer, control: str, unmet: str) -> None:
    native = make_native(data_dir, use_apt=True)
    deb = build_deb(debs, "1.0", control)
    url = artifact_server.add("hello.deb", deb.path.read_bytes())
    outcome = native.execute(native_spec(deb_installer(url, deb)))
    assert outcome.status == "failed"
    assert f"installing with apt-get: {unmet} is not installed at a satisfying version" in outcome.output
    assert APT_LINE in outcome.output and DPKG_LINE not in outcome.output
    assert outcome.reason.startswith("install failed: exit code 100"), outcome.reason
    assert "unmet dependencies" in outcome.output
    # apt-get refuses before unpacking: nothing half-installed, nothing left for dpkg --audit.
    assert dpkg_status() == ""
    assert not HELLO.exists()
    assert run_command(("dpkg", "--audit"), timeout=30).output == ""


def test_silent_args_keep_apt_get(data_dir: DataDir, debs: Path, artifact_server: ArtifactServer) -> None:
    native = make_native(data_dir, use_apt=True)
    deb = build_deb(debs, "1.0")
    url = artifact_server.add("hello.deb", deb.path.read_bytes())
    outcome = native.execute(native_spec(deb_installer(url, deb, silentArgs=["--no-install-recommends"])))
    assert outcome.status == "succeeded", outcome.output
    assert "installing with apt-get: the installer has silentArgs (written for apt-get)" in outcome.output
    assert APT_LINE in outcome.output


@pytest.mark.parametrize(("control", "use_apt"), [
    pytest.param("Conflicts: fleetward-no-such-package\n", True, id="conflicts"),
    pytest.param("Breaks: fleetward-no-such-package (<< 1.0)\n", True, id="breaks"),
    pytest.param("Provides: fleetward-virtual\n", True, id="provides"),
    # dpkg-deb rewrites '>' as '>=' and warns about it: a warning is enough to keep apt-get.
    pytest.param("Depends: dpkg (> 1.0)\n", True, id="deprecated-operator-warned-about"),
    pytest.param("Depends: dpkg:any\n", False, id="any-qualifier-on-multi-arch-foreign"),
    pytest.param("Depends: libc6:native (>= 2.0)\n", False, id="native-qualifier"),
])
def test_the_choice_on_real_control_fields(debs: Path, control: str, use_apt: bool) -> None:
    deb = build_deb(debs, "1.0", control)
    assert choose_deb_tool(deb.path, run_command).use_apt is use_apt


def test_an_unreadable_deb_keeps_apt_get(tmp_path: Path) -> None:
    broken = tmp_path / f"{DEB_NAME}.deb"
    broken.write_bytes(b"not an ar archive")
    tool = choose_deb_tool(broken, run_command)
    assert (tool.use_apt, tool.why) == (True, "could not read the .deb's control fields")


OTHER = "fleetward-test-dependent"


def install_file(path: Path) -> None:
    done = run_command(("dpkg", "-i", str(path)), timeout=60)
    assert done.code == 0, done.output


@pytest.fixture
def other_package(debs: Path) -> Iterator[None]:
    purge(OTHER)
    try:
        yield
    finally:
        purge(OTHER)
        purge()


def test_an_upgrade_another_package_depends_against_keeps_apt_get(debs: Path, other_package: None) -> None:
    install_file(build_deb(debs, "1.0").path)
    install_file(build_deb(debs, "1.0", f"Depends: {DEB_NAME} (= 1.0)\n", name=OTHER).path)
    tool = choose_deb_tool(build_deb(debs, "2.0").path, run_command)
    assert (tool.use_apt, tool.why) == (True, f"the installed {OTHER} depends on {DEB_NAME} (= 1.0)")
    same = choose_deb_tool(build_deb(debs, "1.0", "Depends: dpkg\n").path, run_command)
    assert (same.use_apt, same.why) == (False, "every dependency is installed")


def test_a_package_an_installed_one_conflicts_with_keeps_apt_get(debs: Path, other_package: None) -> None:
    install_file(build_deb(debs, "1.0", f"Conflicts: {DEB_NAME} (<< 2.0)\n", name=OTHER).path)
    tool = choose_deb_tool(build_deb(debs, "1.0").path, run_command)
    assert (tool.use_apt, tool.why) == (True, f"the installed {OTHER} conflicts with {DEB_NAME} (<< 2.0)")
    assert choose_deb_tool(build_deb(debs, "2.0").path, run_command).use_apt is False


@pytest.fixture
def held_dpkg_lock() -> Iterator[None]:
    """Hold dpkg's frontend lock as apt or an unattended upgrade does (a POSIX record lock)."""
    with open("/var/lib/dpkg/lock-frontend", "a") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


@pytest.mark.parametrize(("control", "tool"), [
    pytest.param("", DPKG_LINE, id="dpkg"),
    pytest.param("Depends: awk\n", APT_LINE, id="apt-get"),
])
def test_a_package_database_held_by_another_process_is_retried_later_not_failed(
        data_dir: DataDir, debs: Path, artifact_server: ArtifactServer, held_dpkg_lock: None,
        control: str, tool: str) -> None:
    native = make_native(data_dir, use_apt=True)
    deb = build_deb(debs, "1.0", control)
    url = artifact_server.add("hello.deb", deb.path.read_bytes())
    outcome = native.execute(native_spec(deb_installer(url, deb)))
    assert outcome.status == "failed" and tool in outcome.output, outcome.output
    assert outcome.retry_after_seconds == RETRY_AFTER_SECONDS, outcome.reason
    assert "another process holds the package database lock" in outcome.reason
    assert dpkg_status() == "" and not HELLO.exists()


def test_uninstalling_a_package_another_one_needs_is_refused_and_removes_nothing_else(
        data_dir: DataDir, debs: Path, artifact_server: ArtifactServer, other_package: None) -> None:
    # apt-get remove -y would take the dependent package with it; the agent removes with dpkg, which refuses.
    native = make_native(data_dir, use_apt=True)
    deb = build_deb(debs, "1.0")
    url = artifact_server.add("hello.deb", deb.path.read_bytes())
    assert native.execute(native_spec(deb_installer(url, deb))).status == "succeeded"
    install_file(build_deb(debs, "1.0", f"Depends: {DEB_NAME}\n", name=OTHER).path)
    outcome = native.execute(native_spec(deb_installer(url, deb), seq=2, action="uninstall"))
    assert outcome.status == "failed", outcome.output
    assert f"$ dpkg --no-act --remove {DEB_NAME}" in outcome.output
    assert f"$ dpkg --remove {DEB_NAME}" not in outcome.output and "$ apt-get" not in outcome.output
    assert outcome.reason == "check that nothing installed needs it failed with exit code 1"
    assert f"{OTHER} depends on {DEB_NAME}" in outcome.output  # dpkg names the package that needs it
    assert dpkg_status() == "install ok installed 1.0" and dpkg_status(OTHER) == "install ok installed 1.0"
    purge(OTHER)
    done = native.execute(native_spec(deb_installer(url, deb), seq=3, action="uninstall"))
    assert done.status == "succeeded", done.output
    assert dpkg_status() in ("", "deinstall ok config-files 1.0") and not HELLO.exists()
