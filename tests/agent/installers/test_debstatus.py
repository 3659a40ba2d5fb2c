"""dpkg's status file read in-process: the rows ``dpkg-query -W`` prints, only those the proof needs, and a refusal
whenever the file may be stale or is not what dpkg writes.

``fixtures/dpkg/status`` is a small database in dpkg's own format (multi-arch instances, a folded
Depends, half-installed, unpacked, config-files and not-installed stanzas); the real dpkg-query
reads it with ``--admindir``. The last test compares the reader with dpkg-query on this machine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.installers.debrelations import Installed
from agent.installers.debstanzas import Unreadable
from agent.installers.debstatus import ADMIN_DIR, MAX_STATUS_BYTES, read_installed
from agent.installers.debtool import QUERY_FORMAT, parse_query
from tests.agent.installers.debs import DEB_NAME, DPKG_STATUS_FIXTURE, needs_root_dpkg


def dpkg_query(admin_dir: Path = ADMIN_DIR) -> dict[str, list[Installed]]:
    done = subprocess.run(["dpkg-query", f"--admindir={admin_dir}", "-W", "-f", QUERY_FORMAT], capture_output=True,
                          text=True, check=True)
    return parse_query(done.stdout)


def everything(admin_dir: Path = ADMIN_DIR) -> dict[str, list[Installed]]:
    return read_installed(set(dpkg_query(admin_dir)), "", admin_dir)


def by_name(rows: dict[str, list[Installed]]) -> dict[str, list[Installed]]:
    return {name: sorted(instances, key=lambda row: row.arch) for name, instances in rows.items()}


@needs_root_dpkg
def test_the_fixture_reads_as_dpkg_query_reads_it(admin_dir: Path) -> None:
    assert by_name(everything(admin_dir)) == by_name(dpkg_query(admin_dir))


def test_states_instances_and_folded_fields(admin_dir: Path) -> None:
    rows = read_installed({"libc6", "half-done", "old-config", "selected-only", "tzdata", "folded-depender"}, "zzz",
                          admin_dir)
    assert sorted(rows) == ["folded-depender", "half-done", "libc6", "old-config", "tzdata"]  # not-installed: none
    assert [(row.arch, row.multi_arch) for row in by_name(rows)["libc6"]] == [("amd64", "same"), ("i386", "same")]
    assert rows["folded-depender"][0].depends == f"libc6 (>= 2.34), {DEB_NAME} (>= 1.0), tzdata"
    assert rows["folded-depender"][0].multi_arch == "no"
    half, old = rows["half-done"][0], rows["old-config"][0]
    assert (half.status, half.present, half.configured) == ("install reinstreq half-installed", True, False)
    assert (old.status, old.version, old.present) == ("deinstall ok config-files", "2.0", False)


def test_only_the_named_packages_and_those_mentioning_the_package_are_returned(admin_dir: Path) -> None:
    rows = read_installed({"dpkg", "tzdata", "no-such-package"}, DEB_NAME, admin_dir)
    # folded-depender and unpacked-breaker name it in a relation; describes-hello only in upper case, in prose.
    assert sorted(rows) == ["describes-hello", "dpkg", "folded-depender", "tzdata", "unpacked-breaker"]
    assert rows["unpacked-breaker"][0].breaks == f"{DEB_NAME} (<< 2.0)"


def test_mentioning_none_returns_the_named_packages_only(admin_dir: Path) -> None:
    assert sorted(read_installed({"tzdata", DEB_NAME}, None, admin_dir)) == ["tzdata"]  # its dependers left out


def _write(admin_dir: Path, status: str) -> None:
    (admin_dir / "status").write_text(status)


def test_a_stanza_without_a_plain_package_line_first_is_parsed_whole(admin_dir: Path) -> None:
    _write(admin_dir, DPKG_STATUS_FIXTURE.read_text() + "\nPackage: x\nStatus: install ok installed\nVersion: 1\n\n\n"
           "Package: Yy\nStatus: install ok installed\nVersion: 2\n")
    rows = read_installed({"x", "yy"}, "zzz", admin_dir)
    assert (rows["x"][0].version, rows["yy"][0].version) == ("1", "2")  # dpkg lower-cases names too


@pytest.mark.parametrize(("stanza", "refusal"), [
    pytest.param("Status: install ok installed\nPackage: tzdata\n", "does not start its stanza",
                 id="package-line-not-first"),
    pytest.param("Package: tzdata\nStatus: install ok installed\nPackage: other\n", "does not start its stanza",
                 id="two-package-lines"),
    pytest.param("Package: tzdata\nStatus: install ok installed\nDescription: x\n \n y\n", "continuation line",
                 id="whitespace-only-line"),
    pytest.param("Package: tzdata\nStatus: install ok installed\nMulti-Arch: Foreign\n", "Multi-Arch",
                 id="unknown-multi-arch"),
    pytest.param("Package: tzdata\nVersion: 1\n", "without a Package name or a Status", id="no-status"),
    pytest.param("Package:\n tzdata\nStatus: install ok installed\n", "without a Package name", id="folded-name"),
    pytest.param(f"Package: other\nStatus: install ok installed\nDepends: {DEB_NAME.upper()}\n", "upper case",
                 id="upper-case-relation"),
])
def test_a_stanza_the_proof_needs_that_dpkg_would_not_write_is_refused(admin_dir: Path, stanza: str,
                                                                      refusal: str) -> None:
    fixture = DPKG_STATUS_FIXTURE.read_text()
    _write(admin_dir, fixture.replace("Package: tzdata\n", "Package: was-tzdata\n") + "\n" + stanza)
    with pytest.raises(Unreadable, match=refusal):
        read_installed({"tzdata"}, DEB_NAME, admin_dir)


def test_an_odd_stanza_the_proof_does_not_need_is_not_read(admin_dir: Path) -> None:
    fixture = DPKG_STATUS_FIXTURE.read_text()
    _write(admin_dir, fixture + "\nPackage: other\nStatus: install ok installed\n# not deb822\n")
    rows = read_installed({"dpkg"}, DEB_NAME, admin_dir)
    assert sorted(rows) == ["describes-hello", "dpkg", "folded-depender", "unpacked-breaker"]


def test_a_pending_journal_means_the_status_file_may_be_stale(admin_dir: Path) -> None:
    (admin_dir / "updates" / "0000").write_text("Package: tzdata\nStatus: deinstall ok config-files\n")
    with pytest.raises(Unreadable, match="not yet merged"):
        read_installed({"tzdata"}, DEB_NAME, admin_dir)


@pytest.mark.parametrize("remove", ["updates", "status"])
def test_a_database_without_its_parts_is_refused(admin_dir: Path, remove: str) -> None:
    path = admin_dir / remove
    if path.is_dir():
        path.rmdir()
    else:
        path.unlink()
    with pytest.raises(Unreadable, match="cannot"):
        read_installed({"tzdata"}, DEB_NAME, admin_dir)


def test_an_oversize_status_file_is_refused(admin_dir: Path) -> None:
    with (admin_dir / "status").open("r+b") as status:
        status.truncate(MAX_STATUS_BYTES + 1)  # sparse: nothing written
    with pytest.raises(Unreadable, match="larger than"):
        read_installed({"tzdata"}, DEB_NAME, admin_dir)


@needs_root_dpkg
@pytest.mark.slow
def test_this_machines_database_reads_as_dpkg_query_reads_it() -> None:
    if any(Path("/var/lib/dpkg/updates").iterdir()):
        pytest.skip("dpkg has a journal pending: the in-process reader refuses, as it should")
    queried = dpkg_query()
    assert by_name(everything()) == by_name(queried)
    rows = [row for instances in queried.values() for row in instances]
    for package in queried:
        # What the proof for a .deb of this package reads: its instances, dpkg's and those naming it.
        needed = {"dpkg", package}
        expected = [row for row in rows if row.name in needed or package in
                    " ".join((row.depends, row.pre_depends, row.breaks, row.conflicts))]
        read = [row for instances in read_installed(needed, package).values() for row in instances]
        assert set(expected) <= set(read) <= set(rows), package
