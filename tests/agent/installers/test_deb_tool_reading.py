"""Where the choice of ``dpkg -i`` gets its facts: read in-process, or from dpkg's own tools when it cannot.

Most of these need no dpkg at all: a hand-made .deb and the fixture database
(``fixtures/dpkg/status``: dpkg amd64, libc6 amd64 and i386, tzdata, a package whose folded
Depends names the test package, an unpacked one that breaks versions before 2.0). The rest start
the real ``dpkg-deb`` or ``dpkg-query`` and carry the root/dpkg marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.installers.debtool import choose_deb_tool
from agent.installers.processes import Completed, run_command
from tests.agent.installers.debs import (
    CONTROL,
    DEB_NAME,
    build_deb,
    dpkg_deb_compressions,
    handmade_deb,
    needs_root_dpkg,
)

MET = "Depends: tzdata, libc6 (>= 2.34) | fleetward-no-such-package\n"


class Recorder:
    """A runner that runs the real command and remembers it."""

    def __init__(self) -> None:
        self.argvs: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], **options: Any) -> Completed:
        self.argvs.append(tuple(argv))
        return run_command(argv, **options)

    @property
    def tools(self) -> list[str]:
        return [argv[0] for argv in self.argvs]



def deb_file(tmp_path: Path, control: str = CONTROL, version: str = "1.0") -> Path:
    path = tmp_path / f"hand-{version}.deb"
    path.write_bytes(handmade_deb(control.replace("Version: 1.0\n", f"Version: {version}\n")))
    return path


@pytest.mark.parametrize(("control", "version", "use_apt", "why"), [
    pytest.param(CONTROL, "2.0", False, "the .deb has no dependencies", id="no-dependencies"),
    pytest.param(CONTROL + MET, "2.0", False, "every dependency is installed", id="dependencies-met"),
    pytest.param(CONTROL + "Depends: tzdata (>= 2025)\n", "2.0", True,
                 "tzdata (>= 2025) is not installed at a satisfying version (or only provided by another package)",
                 id="version-too-old"),
    pytest.param(CONTROL + "Depends: half-done\n", "2.0", True,
                 "half-done is not installed at a satisfying version (or only provided by another package)",
                 id="half-installed-dependency"),
    pytest.param(CONTROL, "1.0", True, f"the installed unpacked-breaker breaks {DEB_NAME} (<< 2.0)",
                 id="broken-by-an-installed-package"),
    pytest.param(CONTROL, "0.9", True, f"the installed folded-depender depends on {DEB_NAME} (>= 1.0)",
                 id="below-a-folded-depends"),
    pytest.param(CONTROL + "depends: fleetward-no-such-package\n", "2.0", True,
                 "fleetward-no-such-package is not installed at a satisfying version "
                 "(or only provided by another package)", id="field-name-in-lower-case"),
    pytest.param(CONTROL + "PROVIDES: fleetward-virtual\n", "2.0", True,
                 "the .deb declares Conflicts, Breaks or Provides", id="provides-in-upper-case"),
    pytest.param(CONTROL.replace(f"Package: {DEB_NAME}", "Package: Fleetward-Test-Hello"), "2.0", True,
                 "cannot read the package name 'Fleetward-Test-Hello'", id="package-name-dpkg-would-lower-case"),
])
def test_the_choice_is_made_without_starting_a_process(tmp_path: Path, admin_dir: Path, control: str, version: str,
                                                      use_apt: bool, why: str) -> None:
    runner = Recorder()
    tool = choose_deb_tool(deb_file(tmp_path, control, version), runner, admin_dir)
    assert (tool.use_apt, tool.why, tool.read_by) == (use_apt, why, ())
    assert runner.argvs == []


@needs_root_dpkg
def test_a_pending_dpkg_journal_sends_the_question_to_dpkg_query(tmp_path: Path, admin_dir: Path) -> None:
    deb = deb_file(tmp_path, CONTROL + MET, "2.0")
    assert choose_deb_tool(deb, Recorder(), admin_dir).use_apt is False
    # dpkg recorded tzdata's removal in its journal and has not yet rewritten the status file.
    (admin_dir / "updates" / "0000").write_text(
        "Package: tzdata\nStatus: deinstall ok config-files\nMaintainer: m\nArchitecture: all\n"
        "Multi-Arch: foreign\nVersion: 2024a-0+deb12u1\nDescription: time zone data\n")
    runner = Recorder()
    tool = choose_deb_tool(deb, runner, admin_dir)
    assert runner.argvs == [("dpkg-query", f"--admindir={admin_dir}", "-W", "-f", runner.argvs[0][-1])]
    assert tool.use_apt is True and tool.why.startswith("tzdata is not installed")
    assert tool.read_by == (f"installed packages read by dpkg-query: dpkg has updates not yet merged into its status "
                            f"file ({admin_dir / 'updates' / '0000'})",)
    assert tool.describe().endswith(f"({tool.read_by[0]})")


@needs_root_dpkg
def test_a_zstd_deb_is_read_by_dpkg_deb_and_decided_alike(tmp_path: Path, admin_dir: Path) -> None:
    if "zstd" not in dpkg_deb_compressions():
        pytest.skip("this dpkg-deb does not build zstd")
    runner = Recorder()
    tool = choose_deb_tool(build_deb(tmp_path, "2.0", MET, compression="zstd").path, runner, admin_dir)
    assert (tool.use_apt, tool.why) == (False, "every dependency is installed")
    assert runner.tools == ["dpkg-deb"]
    assert tool.read_by == ("control fields read by dpkg-deb: control.tar.zst (Python 3.11 cannot decompress zstd)",)


@needs_root_dpkg
@pytest.mark.parametrize("compression", ["gzip", "xz", "none"])
def test_debs_dpkg_deb_builds_are_read_in_process(tmp_path: Path, admin_dir: Path, compression: str) -> None:
    runner = Recorder()
    tool = choose_deb_tool(build_deb(tmp_path, "2.0", MET, compression=compression).path, runner, admin_dir)
    assert (tool.use_apt, tool.why, runner.argvs) == (False, "every dependency is installed", [])


@needs_root_dpkg
def test_a_deb_neither_reader_can_read_keeps_apt_get(tmp_path: Path, admin_dir: Path) -> None:
    broken = tmp_path / "broken.deb"
    broken.write_bytes(handmade_deb()[:150])
    runner = Recorder()
    tool = choose_deb_tool(broken, runner, admin_dir)
    assert (tool.use_apt, tool.why) == (True, "could not read the .deb's control fields")
    assert runner.tools == ["dpkg-deb"]
    assert tool.read_by == ("control fields read by dpkg-deb: truncated: the file ends inside control.tar.gz",)
