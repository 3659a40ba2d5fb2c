"""Windows software: the PowerShell script's JSON (recorded shapes) parsed into items."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from agent.software import collect_software
from agent.software.windows import SCRIPT, parse_windows, powershell_tool
from schemas.protocol import SoftwareItem

FIXTURE = Path(__file__).parent / "fixtures" / "software" / "windows-software.json"
MICROSOFT = "Microsoft Corporation"


def test_uninstall_keys_and_appx_packages_become_items() -> None:
    items = parse_windows(FIXTURE.read_text())
    assert items == [
        SoftwareItem(name="microsoft xna game studio platform tools", version="1.1.0.0", source="msi",
                     install_date=date(2010, 2, 4)),
        SoftwareItem(name="Adobe Flash Player 23 ActiveX", version="23.0.0.207", source="registry", arch="x86",
                     publisher="Adobe Systems Incorporated"),
        SoftwareItem(name="Adobe Flash Player 23 NPAPI", version="23.0.0.207", source="registry", arch="x86",
                     publisher="Adobe Systems Incorporated"),
        SoftwareItem(name="Google Chrome", version="54.0.2840.99", source="registry", arch="x86",
                     publisher="Google Inc.", install_date=date(2016, 1, 15)),
        SoftwareItem(name="HP Support Assistant", version="8.8.34.31", source="msi", arch="x86",
                     publisher="HP Inc.", install_date=date(2019, 4, 17)),
        SoftwareItem(name="Zoom", version="5.17.11 (34827)", source="registry",
                     publisher="Zoom Video Communications, Inc.", install_date=date(2024, 2, 12)),
        SoftwareItem(name="Legacy Tool", version="1.0", source="registry", publisher="Example Vendor"),
        SoftwareItem(name="38833FF26BA1D.UnigramPreview", version="3.14.2665.0", source="appx", arch="x64",
                     publisher="D89C87B4-2758-402A-8F40-3571D00882AB"),
        SoftwareItem(name="Microsoft.MicrosoftEdge", version="44.19041.964.0", source="appx", arch="neutral",
                     publisher=MICROSOFT),
        SoftwareItem(name="Microsoft.WindowsAppRuntime.1.0", version="0.318.928.0", source="appx", arch="x86",
                     publisher=MICROSOFT),
        SoftwareItem(name="Microsoft.WindowsStore", version="22405.1401.9.0", source="appx", arch="x64",
                     publisher=MICROSOFT),
        SoftwareItem(name="CanonicalGroupLimited.Ubuntu22.04LTS", version="2204.3.63.0", source="appx",
                     arch="x64", publisher="23596F84-C3EA-4CD8-A7DF-550DCE37BCD0"),
    ]


@pytest.mark.parametrize(
    ("document", "names"),
    [
        pytest.param({"uninstall": {"DisplayName": "Only One", "Hive": "HKLM"}, "appx": None}, ["Only One"],
                     id="single-entry-as-object"),
        pytest.param({"uninstall": [{"DisplayName": "", "Hive": "HKLM"}, {"DisplayName": 7}]}, ["7"],
                     id="empty-and-odd-names"),
        pytest.param({"uninstall": [{"DisplayName": "Hidden", "SystemComponent": "1"}]}, [], id="string-flag"),
        pytest.param([1, 2], [], id="not-an-object"),
    ],
)
def test_odd_documents_are_tolerated(document: object, names: list[str]) -> None:
    assert [item.name for item in parse_windows(json.dumps(document))] == names


def test_a_byte_order_mark_is_ignored_and_garbage_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert len(parse_windows("\ufeff" + FIXTURE.read_text())) == 12
    assert parse_windows("Get-ItemProperty : access denied") == []
    assert "did not print JSON" in caplog.text


def test_fields_are_capped() -> None:
    document = {"uninstall": [{"DisplayName": "n" * 900, "DisplayVersion": "v" * 900, "Publisher": "p" * 900}]}
    (item,) = parse_windows(json.dumps(document))
    assert (len(item.name), len(item.version), len(item.publisher)) == (500, 200, 500)


def test_the_script_reads_every_documented_location() -> None:
    for needle in (r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
                   r"HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
                   "Registry::HKEY_USERS", "Get-AppxPackage -AllUsers", "ConvertTo-Json"):
        assert needle in SCRIPT
    argv = powershell_tool().argv
    assert argv[0] == "powershell.exe" and "-EncodedCommand" in argv


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell to stand in for powershell.exe")
def test_the_collector_runs_powershell_and_parses_its_output(tmp_path: Path) -> None:
    fake = tmp_path / "powershell.exe"
    fake.write_text(f"#!/bin/sh\ncat '{FIXTURE}'\n")
    fake.chmod(0o755)
    items = collect_software(os_name="windows", search_path=str(tmp_path))
    assert len(items) == 12
    assert {item.source for item in items} == {"msi", "registry", "appx"}
    assert items == sorted(items, key=lambda item: (item.source, item.name, item.arch, item.version,
                                                    item.publisher, str(item.install_date)))
