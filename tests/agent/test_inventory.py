"""Inventory: facts, software from the package tools, receipts, hashing and what gets sent."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from agent.facts import collect_facts, current_os, os_version, parse_os_release
from agent.inventory import Inventory, collect_inventory
from agent.receipts import Receipt, Receipts
from agent.software import Places, collect_software
from agent.software.linux import LinuxPlaces
from schemas.protocol import Facts, SoftwareItem
from tests.agent.builders import NOW
from tests.agent.collectors import quiet

NOWHERE = Places(linux=LinuxPlaces(dpkg_info=Path("/nonexistent/dpkg"), snapd_socket=Path("/nonexistent/snapd")))


def _tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def test_dpkg_and_rpm_are_both_read(tools: Path) -> None:
    _tool(tools, "dpkg-query", "printf 'ii \\tcurl\\t7.88.1-10\\tamd64\\tDebian Curl <c@d.org>\\n"
                               "rc \\told-thing\\t1.0\\tamd64\\tSomeone\\n'\n")
    _tool(tools, "rpm", "printf 'bash\\t1:5.2-2.fc39\\tx86_64\\tFedora Project\\t1700000000\\n"
                        "noarch-x\\t1-1\\tnoarch\\t(none)\\n'\n")
    items = collect_software(search_path=str(tools), places=NOWHERE)
    assert items == [
        SoftwareItem(name="curl", version="7.88.1-10", source="dpkg", arch="amd64",
                     publisher="Debian Curl <c@d.org>"),
        SoftwareItem(name="bash", version="1:5.2-2.fc39", source="rpm", arch="x86_64",
                     publisher="Fedora Project", install_date=date(2023, 11, 14)),
        SoftwareItem(name="noarch-x", version="1-1", source="rpm", arch="noarch", publisher=""),
    ]


def test_missing_tools_give_an_empty_list(tools: Path) -> None:
    assert collect_software(search_path=str(tools), places=NOWHERE) == []


def test_a_failing_tool_is_logged_and_skipped(tools: Path, caplog: pytest.LogCaptureFixture) -> None:
    _tool(tools, "dpkg-query", "echo 'database locked' >&2; exit 2\n")
    _tool(tools, "rpm", "printf 'bash\\t5.2-2\\tx86_64\\tFedora\\n'\n")
    assert [item.name for item in collect_software(search_path=str(tools), places=NOWHERE)] == ["bash"]
    assert "dpkg-query exited with 2 (database locked)" in caplog.text


def test_os_release_parsing() -> None:
    text = 'NAME="Debian GNU/Linux"\n# comment\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
    assert parse_os_release(text)["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)"
    assert parse_os_release(text)["ID"] == "debian"


def test_os_version_comes_from_os_release(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text("PRETTY_NAME='Example Linux 9'\n")
    assert os_version("linux", release) == "Example Linux 9"


@pytest.mark.parametrize(
    ("platform_name", "os_name"),
    [pytest.param("linux", "linux", id="linux"), pytest.param("win32", "windows", id="windows"),
     pytest.param("darwin", "macos", id="macos")],
)
def test_os_from_sys_platform(platform_name: str, os_name: str) -> None:
    assert current_os(platform_name) == os_name


def test_facts_describe_this_machine() -> None:
    facts = collect_facts()
    assert facts.os == "linux"
    assert facts.arch == platform.machine()
    assert facts.agent_version


FACTS = Facts(hostname="pc-1", os="linux", os_version="Debian 12", arch="x86_64")
CURL = SoftwareItem(name="curl", version="7.88", source="dpkg")


def _inventory(**changes: object) -> Inventory:
    fields: dict[str, object] = {"facts": FACTS, "software": [CURL], "managed": []}
    fields.update(changes)
    return Inventory(**fields)  # type: ignore[arg-type]


def test_only_changed_sections_are_sent() -> None:
    accepted = _inventory().hashes()
    changed = _inventory(software=[CURL, SoftwareItem(name="jq", version="1.6", source="dpkg")])
    report = changed.report(accepted, full=False)
    assert report is not None
    assert (report.facts, report.managed) == (None, None)
    assert report.software is not None and len(report.software) == 2
    assert set(report.hashes) == {"software"}


def test_nothing_changed_sends_nothing_but_full_sends_everything() -> None:
    accepted = _inventory().hashes()
    assert _inventory().report(accepted, full=False) is None
    full = _inventory().report(accepted, full=True)
    assert full is not None and full.full and set(full.hashes) == {"facts", "software", "managed"}


def test_hashes_are_stable_and_content_sensitive() -> None:
    assert _inventory().hashes() == _inventory().hashes()
    assert _inventory().hashes()["facts"] != _inventory(facts=FACTS.model_copy(update={"arch": "arm64"})) \
        .hashes()["facts"]


def test_managed_comes_from_the_receipts(tmp_path: Path) -> None:
    receipts = Receipts(tmp_path)
    receipts.put(Receipt(package="hello-tool", version="1.0.0", sha256="a" * 64, installed_at=NOW, path="/x"))
    inventory = collect_inventory(receipts, quiet(FACTS))
    assert [(item.package, item.version) for item in inventory.managed] == [("hello-tool", "1.0.0")]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a dpkg-based system")
def test_inventory_command_matches_dpkg(cli, tmp_path: Path) -> None:
    done = cli("inventory", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"facts", "software", "managed", "hardware", "licenses", "network", "hashes", "failed",
                             "cpu_seconds"}
    assert document["failed"] == [] and set(document["hashes"]) == set(document) - {"hashes", "failed", "cpu_seconds"}
    # `dpkg-query -W` itself, with the status column so removed-but-configured packages drop out.
    listed = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n"],
                            capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in listed.splitlines()]
    expected = sorted((name, version) for status, name, version in rows if status[1] == "i")
    got = sorted((item["name"], item["version"]) for item in document["software"] if item["source"] == "dpkg")
    assert got == expected
    assert len(got) > 10
    assert document["facts"]["os"] == "linux" and document["managed"] == []
