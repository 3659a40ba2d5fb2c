"""Windows licence keys: parsing recorded licensing-query outputs, the collector, and keeping the key secret."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.licensekeys import ARGV, SCRIPT, collect_license_keys, parse_license_keys
from schemas.inventory import LicenseKeyItem

FIXTURES = Path(__file__).parent / "fixtures"
OEM_KEY = "Q7N4B-XKD2M-9TJ6W-HCRP8-3V66T"
FIRMWARE_KEY = "W8KJD-2HFX4-BPQ7C-6RTMY-9GV3N"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_an_oem_machine_pairs_the_firmware_key_with_its_windows() -> None:
    assert parse_license_keys(load("windows-licensing-oem.json")) == [
        LicenseKeyItem(product="Windows(R), Professional edition", key=OEM_KEY, partial_key="3V66T", channel="OEM:DM",
                       status="licensed"),
    ]


def test_a_reinstalled_machine_lists_the_unused_firmware_key_on_its_own() -> None:
    assert parse_license_keys(load("windows-licensing-volume.json")) == [
        LicenseKeyItem(product="Windows (OEM key in firmware)", key=FIRMWARE_KEY, partial_key="9GV3N",
                       channel="OEM:DM", status="unknown"),
        LicenseKeyItem(product="Windows(R), Enterprise edition", partial_key="2YT43", channel="Volume:GVLK",
                       status="notification"),
        LicenseKeyItem(product="Windows(R), ServerStandard edition", partial_key="M7XTQ", channel="Volume:MAK",
                       status="grace"),
    ]


@pytest.mark.parametrize(("status", "expected"), [
    pytest.param(0, "unlicensed", id="unlicensed"), pytest.param(1, "licensed", id="licensed"),
    pytest.param(2, "grace", id="oob-grace"), pytest.param(3, "grace", id="oot-grace"),
    pytest.param(4, "grace", id="non-genuine-grace"), pytest.param(5, "notification", id="notification"),
    pytest.param(6, "grace", id="extended-grace"), pytest.param(7, "unknown", id="undocumented"),
    pytest.param("1", "licensed", id="as-a-string"), pytest.param(None, "unknown", id="missing"),
    pytest.param([1], "unknown", id="wrong-type"),
])
def test_licence_status_codes(status: object, expected: str) -> None:
    data = load("windows-licensing-oem.json")
    data["Products"]["LicenseStatus"] = status
    assert parse_license_keys(data)[0].status == expected


@pytest.mark.parametrize("data", [
    pytest.param({"Products": None, "OA3xOriginalProductKey": None}, id="nothing-installed"),
    pytest.param({"Products": "text", "OA3xOriginalProductKey": 12345}, id="wrong-types"),
    pytest.param({"OA3xOriginalProductKey": "not a key at all"}, id="malformed-key"),
    pytest.param([1, 2, 3], id="not-an-object"),
])
def test_malformed_answers_give_no_keys_and_no_exception(data: object) -> None:
    assert parse_license_keys(data) == []


def test_garbage_product_fields_keep_the_rest() -> None:
    data = load("windows-licensing-volume.json")
    data["Products"][0]["PartialProductKey"] = "<script>"
    data["Products"][0]["Name"] = {"nested": True}
    items = parse_license_keys(data)
    assert [(item.product, item.partial_key) for item in items] == [
        ("Windows", ""), ("Windows (OEM key in firmware)", "9GV3N"), ("Windows(R), ServerStandard edition", "M7XTQ")]


def test_the_script_reads_windows_products_and_the_firmware_key() -> None:
    assert ARGV[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-Command")
    assert '"' not in SCRIPT
    assert "SoftwareLicensingProduct" in SCRIPT
    assert "ApplicationID=''55c92734-d682-4d71-983e-d6ec3f16059f''" in SCRIPT
    assert "(Get-CimInstance -ClassName SoftwareLicensingService).OA3xOriginalProductKey" in SCRIPT


def fake_powershell(folder: Path, body: str) -> str:
    folder.mkdir(exist_ok=True)
    script = folder / "powershell"
    script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    script.chmod(0o755)
    return str(folder)


@pytest.mark.skipif(os.name != "posix", reason="the fake powershell is a POSIX script")
def test_linux_and_macos_have_no_keys(tmp_path: Path) -> None:
    recorded = (FIXTURES / "windows-licensing-oem.json").read_text()
    path = fake_powershell(tmp_path / "bin", f"sys.stdout.write({recorded!r})")
    assert collect_license_keys("linux", path) == []
    assert collect_license_keys("macos", path) == []
    assert collect_license_keys("windows", path)[0].key == OEM_KEY


@pytest.mark.skipif(os.name != "posix", reason="the fake powershell is a POSIX script")
@pytest.mark.parametrize(("body", "logged"), [
    pytest.param("sys.stdout.write({recorded!r})", "", id="works"),
    pytest.param("sys.stdout.write({recorded!r}[:-20])", "invalid JSON", id="truncated-json"),
    pytest.param("sys.stderr.write('failed reading ' + {recorded!r}); sys.exit(1)", "exited with 1 (output withheld)",
                 id="fails-quoting-its-output"),
    pytest.param("sys.stdout.write({recorded!r} * 5000)", "printed more than", id="floods"),
])
def test_no_log_line_ever_carries_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture, body: str,
                                          logged: str) -> None:
    recorded = (FIXTURES / "windows-licensing-volume.json").read_text()
    path = fake_powershell(tmp_path / "bin", body.format(recorded=recorded))
    with caplog.at_level(logging.DEBUG):
        items = collect_license_keys("windows", path)
        parse_license_keys(load("windows-licensing-volume.json"))
        parse_license_keys({"OA3xOriginalProductKey": FIRMWARE_KEY.lower() + "-EXTRA"})
        parse_license_keys({"Products": {"Name": "x" * 1000, "PartialProductKey": "M7XTQ"},
                            "OA3xOriginalProductKey": FIRMWARE_KEY})
    assert (items != []) == (logged == "")
    assert logged in caplog.text
    assert "ignoring the firmware product key" in caplog.text  # the malformed key was logged about, not shown
    for secret in (FIRMWARE_KEY, FIRMWARE_KEY.lower(), "2HFX4-BPQ7C"):
        assert secret not in caplog.text
