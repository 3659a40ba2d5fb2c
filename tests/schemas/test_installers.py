"""The Installer union: every type loads, the OS fits the type, pins and detection are required where needed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.packages import TYPE_OS, Package, parse_installer

PIN = {"sha256": "a" * 64, "size": 10}
DETECT = [{"type": "inventory", "name": "Tool"}]
GUID = "{11111111-2222-3333-4444-555555555555}"

GOOD: dict[str, dict[str, Any]] = {
    "archive": {"os": "linux", "url": "https://x/a.tar.gz", "sha256": "a" * 64},
    "msi": {"os": "windows", "url": "https://x/a.msi", **PIN, "productCode": GUID},
    "exe": {"os": "windows", "url": "https://x/a.exe", **PIN, "silentArgs": ["/S"], "detection": DETECT},
    "msix": {"os": "windows", "url": "https://x/a.msix", **PIN, "packageName": "Contoso.Tool"},
    "winget": {"os": "windows", "packageId": "Mozilla.Firefox", "detection": DETECT},
    "choco": {"os": "windows", "packageId": "7zip", "detection": DETECT},
    "pkg": {"os": "macos", "url": "https://x/a.pkg", **PIN, "packageIdentifier": "com.example.tool"},
    "dmg": {"os": "macos", "url": "https://x/a.dmg", **PIN, "app": "Tool.app"},
    "brew": {"os": "macos", "packageId": "firefox", "cask": True, "detection": DETECT},
    "deb": {"os": "linux", "url": "https://x/a.deb", **PIN, "packageName": "hello"},
    "rpm": {"os": "linux", "url": "https://x/a.rpm", **PIN, "packageName": "hello"},
    "apt": {"os": "linux", "packageId": "curl"},
    "dnf": {"os": "linux", "packageId": "htop"},
    "script": {"os": "linux", "script": {"shell": "bash", "text": "echo hi"}, "detection": DETECT},
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_every_type_loads_and_round_trips(kind: str) -> None:
    installer = parse_installer({"type": kind, **GOOD[kind]})
    assert installer.type == kind
    dumped = installer.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert parse_installer(dumped) == installer


def test_every_type_is_tested() -> None:
    assert set(GOOD) == set(TYPE_OS)


@pytest.mark.parametrize(("data", "message"), [
    pytest.param({"type": "msi", **GOOD["msi"], "os": "linux"},
                 "'msi' installers run on windows only; for linux use one of: apt, archive, deb, dnf, rpm, script",
                 id="msi-on-linux"),
    pytest.param({"type": "deb", **GOOD["deb"], "os": "macos"},
                 "for macos use one of: archive, brew, dmg, pkg, script", id="deb-on-macos"),
    pytest.param({"type": "deb", **{k: v for k, v in GOOD["deb"].items() if k != "size"}}, "size",
                 id="deb-without-size"),
    pytest.param({"type": "exe", **GOOD["exe"], "detection": []}, "'exe' installers need a detection rule",
                 id="exe-without-detection"),
    pytest.param({"type": "exe", **GOOD["exe"], "uninstall": "native"}, "'exe' installers have no native uninstall",
                 id="exe-native-uninstall"),
    pytest.param({"type": "msi", **{k: v for k, v in GOOD["msi"].items() if k != "productCode"}},
                 "needs productCode", id="msi-without-product-code"),
    pytest.param({"type": "script", **GOOD["script"], "url": "https://x/a.sh"}, "needs sha256 and size",
                 id="script-url-without-pin"),
    pytest.param({"type": "deb", **GOOD["deb"], "signature": {"publicKey": "AAAA", "signature": "AAAA"}},
                 "publicKey must decode to 32 bytes", id="short-signature-key"),
    pytest.param({"type": "script", **GOOD["script"], "script": {"shell": "sh", "text": "x" * 70_000}},
                 "at most 65536 characters", id="inline-script-too-long"),
    pytest.param({"type": "deb", **GOOD["deb"], "exitCodes": {"zero": "success"}}, "valid integer",
                 id="exit-code-not-a-number"),
    pytest.param({"type": "deb", **GOOD["deb"], "exitCodes": {0: "fine"}}, "'success'", id="unknown-meaning"),
    pytest.param({"type": "deb", **GOOD["deb"], "detection": [{"type": "registry", "key": "HKCU\\x"}]}, "pattern",
                 id="registry-outside-hklm"),
])
def test_bad_installers_say_what_to_fix(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("'", "'")):
        parse_installer(data)


def test_existing_archive_packages_load_unchanged() -> None:
    package = Package.model_validate({
        "apiVersion": "fleetward/v1", "kind": "Package", "metadata": {"name": "hello-tool"},
        "spec": {"version": "1.0.0", "installers": [
            {"os": "linux", "type": "archive", "url": "file:///srv/hello-tool-1.0.0.tar.gz", "sha256": "a" * 64}]}})
    assert package.spec.installer_for("linux", "x86_64").type == "archive"  # type: ignore[union-attr]


def test_a_package_mixes_types_per_os() -> None:
    package = Package.model_validate({
        "apiVersion": "fleetward/v1", "kind": "Package", "metadata": {"name": "tool"},
        "spec": {"version": "1.2.3", "installers": [
            {"type": "msi", **GOOD["msi"]}, {"type": "deb", **GOOD["deb"]}, {"type": "dmg", **GOOD["dmg"]}]}})
    assert [package.spec.installer_for(os, None).type for os in ("windows", "linux", "macos")] == [  # type: ignore[union-attr]
        "msi", "deb", "dmg"]
