"""macOS software: application bundles and package receipts, read from real plist files."""

from __future__ import annotations

import plistlib
import shutil
from datetime import date
from pathlib import Path

import pytest

from agent.software import Places, collect_software
from agent.software.macos import MAX_PLIST_BYTES, MacPlaces, read_plist, vendor_of
from schemas.protocol import SoftwareItem

FIXTURES = Path(__file__).parent / "fixtures" / "software" / "macos"


def _bundle(folder: Path, name: str, info: Path | dict[str, object] | None) -> Path:
    contents = folder / name / "Contents"
    contents.mkdir(parents=True)
    if isinstance(info, Path):
        shutil.copy(info, contents / "Info.plist")
    elif info is not None:
        (contents / "Info.plist").write_bytes(plistlib.dumps(info))
    return folder / name


@pytest.fixture
def mac(tmp_path: Path) -> MacPlaces:
    places = MacPlaces(applications=tmp_path / "Applications", users=tmp_path / "Users",
                       receipts=tmp_path / "receipts")
    _bundle(places.applications, "Firefox.app", FIXTURES / "Firefox.Info.plist")
    _bundle(places.applications, "Microsoft Word.app", FIXTURES / "Word.Info.plist")
    _bundle(places.applications, "Broken.app", None)  # no Info.plist: skipped
    (places.applications / "Utilities").mkdir()  # not a bundle
    _bundle(places.users / "alice" / "Applications", "Notes Helper.app",
            {"CFBundleVersion": "42", "CFBundleIdentifier": "io.example.noteshelper"})
    (places.users / "Shared").mkdir()
    places.receipts.mkdir()
    for receipt in FIXTURES.glob("com.*.plist"):
        shutil.copy(receipt, places.receipts / receipt.name)
    (places.receipts / "com.googlecode.munki.core.bom").write_bytes(b"BOMStore")  # not a receipt
    return places


def test_bundles_and_receipts_become_items(mac: MacPlaces) -> None:
    assert collect_software(os_name="macos", places=Places(macos=mac)) == [
        SoftwareItem(name="Firefox", version="121.0", source="app", publisher="mozilla"),
        SoftwareItem(name="Microsoft Word", version="16.80", source="app", publisher="microsoft"),
        SoftwareItem(name="Notes Helper", version="42", source="app", publisher="example"),
        SoftwareItem(name="com.apple.pkg.XProtectPayloads_10_15.16U4396", version="2178", source="pkgutil",
                     publisher="apple", install_date=date(2024, 1, 9)),
        SoftwareItem(name="com.googlecode.munki.core", version="6.2.0.4544", source="pkgutil",
                     publisher="googlecode", install_date=date(2022, 6, 1)),
        SoftwareItem(name="com.microsoft.package.Microsoft_Word.app", version="16.80.23121017",
                     source="pkgutil", publisher="microsoft", install_date=date(2023, 12, 14)),
    ]


def test_both_plist_formats_are_read() -> None:
    assert (FIXTURES / "Word.Info.plist").read_bytes().startswith(b"bplist00")
    binary = read_plist(FIXTURES / "Word.Info.plist")
    xml = read_plist(FIXTURES / "Firefox.Info.plist")
    assert binary is not None and binary["CFBundleIdentifier"] == "com.microsoft.Word"
    assert xml is not None and xml["CFBundleIdentifier"] == "org.mozilla.firefox"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        pytest.param(b"not a plist at all", "garbage", id="garbage"),
        pytest.param(plistlib.dumps(["a", "list"]), "not a dict", id="top-level-list"),
        pytest.param(b"<?xml version='1.0'?><plist><dict><key>A</key>" + b" " * MAX_PLIST_BYTES, "too large",
                     id="too-large"),
    ],
)
def test_unreadable_plists_are_skipped(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "Info.plist"
    path.write_bytes(content)
    assert read_plist(path) is None, why


def test_missing_folders_give_nothing(tmp_path: Path) -> None:
    empty = MacPlaces(applications=tmp_path / "no-apps", users=tmp_path / "no-users", receipts=tmp_path / "no")
    assert collect_software(os_name="macos", places=Places(macos=empty)) == []


@pytest.mark.parametrize(("identifier", "vendor"), [
    pytest.param("org.mozilla.firefox", "mozilla", id="reverse-dns"),
    pytest.param("Firefox", "", id="no-dots"),
    pytest.param("com.example", "", id="too-short"),
    pytest.param(None, "", id="absent"),
])
def test_vendor_from_identifier(identifier: object, vendor: str) -> None:
    assert vendor_of(identifier) == vendor
