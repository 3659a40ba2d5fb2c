"""Windows, macOS and the Linux tools this machine lacks: evaluators against recorded command outputs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from agent.monitoring.probes import VolumeUsage
from agent.policies.checks import RegistryValue, evaluate
from agent.policies.checks.admins import WINDOWS_ADMINISTRATORS
from agent.policies.checks.encryption import LSBLK, WINDOWS_BITLOCKER
from agent.policies.checks.firewall import MACOS_SOCKETFILTERFW, WINDOWS_PROFILES
from agent.policies.checks.screenlock import INACTIVITY_KEY, SCREENSAVER_KEY
from agent.policies.checks.services import SYSTEMD_PROPERTIES, WINDOWS_SERVICE_QUERY
from agent.policies.checks.updates import WINDOWS_HOTFIX_DATES
from schemas.checks import Check
from tests.agent.policies.recorded import fixture, out, powershell, recorded_host

CHECK: TypeAdapter[Any] = TypeAdapter(Check)


def check(**fields: Any) -> Any:
    return CHECK.validate_python({"name": "c", **fields})


# --- services -------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "status"), [
    pytest.param({"state": "running", "startMode": "automatic"}, "compliant", id="running-auto"),
    pytest.param({"state": "stopped"}, "non_compliant", id="should-be-stopped"),
    pytest.param({"startMode": "disabled"}, "non_compliant", id="should-be-disabled"),
])
def test_windows_service(fields: dict, status: str) -> None:
    host = recorded_host("windows", {powershell(WINDOWS_SERVICE_QUERY): out(fixture("windows/service-spooler.json"))})
    result = evaluate(check(type="service", service="Spooler", **fields), host)
    assert result.status == status, result.evidence
    # The service name reaches PowerShell as an environment variable, never inside the command text.
    argv, env = host.runner.calls[0]  # type: ignore[attr-defined]
    assert env == {"FLEETWARD_ARG_SERVICE": "Spooler"} and "Spooler" not in " ".join(argv)


def test_windows_service_stopped_and_disabled_and_missing() -> None:
    host = recorded_host("windows", {powershell(WINDOWS_SERVICE_QUERY):
                                     out(fixture("windows/service-remoteregistry.json"))})
    result = evaluate(check(type="service", service="RemoteRegistry", state="stopped", startMode="disabled"), host)
    assert (result.status, result.evidence) == ("compliant",
                                                "service 'RemoteRegistry' is stopped, start mode Disabled")
    empty = recorded_host("windows", {powershell(WINDOWS_SERVICE_QUERY): out("")})
    assert evaluate(check(type="service", service="Nope"), empty).status == "non_compliant"
    assert evaluate(check(type="service", service="Nope", state="stopped"), empty).status == "compliant"


@pytest.mark.parametrize(("recording", "fields", "status", "evidence"), [
    pytest.param("systemctl-show-ssh.txt", {"startMode": "automatic"}, "compliant",
                 "service 'ssh' is running, start mode enabled", id="enabled-running"),
    pytest.param("systemctl-show-ssh.txt", {"startMode": "disabled"}, "non_compliant",
                 "service 'ssh' starts enabled, should be disabled", id="enabled-not-disabled"),
    pytest.param("systemctl-show-masked.txt", {"state": "stopped", "startMode": "disabled"}, "compliant",
                 "service 'ssh' is stopped, start mode masked", id="masked"),
    pytest.param("systemctl-show-masked.txt", {"state": "stopped", "startMode": "manual"}, "non_compliant",
                 "service 'ssh' starts masked, should be manual", id="masked-is-not-manual"),
    pytest.param("systemctl-show-missing.txt", {}, "non_compliant", "service 'ssh' does not exist", id="missing"),
])
def test_systemd_service(recording: str, fields: dict, status: str, evidence: str) -> None:
    host = recorded_host("linux", {("systemctl", "show", SYSTEMD_PROPERTIES, "--", "ssh"):
                                   out(fixture(f"linux/{recording}"))})
    result = evaluate(check(type="service", service="ssh", **fields), host)
    assert (result.status, result.evidence) == (status, evidence)


def test_launchd_service() -> None:
    answers = {("launchctl", "print", "system/com.openssh.sshd"): out(fixture("macos/launchctl-print-sshd.txt")),
               ("launchctl", "print-disabled", "system"): out(fixture("macos/launchctl-print-disabled.txt")),
               ("launchctl", "print", "system/org.cups.cupsd"): out("", code=113,
                                                                    stderr="Could not find service")}
    host = recorded_host("macos", answers)
    assert evaluate(check(type="service", service="com.openssh.sshd", startMode="manual"), host).status == "compliant"
    assert evaluate(check(type="service", service="com.openssh.sshd", startMode="automatic"),
                    host).status == "non_compliant"
    cups = evaluate(check(type="service", service="org.cups.cupsd", state="stopped", startMode="disabled"), host)
    assert cups.status == "compliant", cups.evidence


# --- registry and screen lock (Windows) -----------------------------------------------------

KEY = r"HKLM\SOFTWARE\Policies\Example"


@pytest.mark.parametrize(("fields", "value", "status"), [
    pytest.param({}, RegistryValue("REG_DWORD", 1), "compliant", id="exists"),
    pytest.param({}, None, "non_compliant", id="absent"),
    pytest.param({"exists": False}, None, "compliant", id="must-be-absent"),
    pytest.param({"exists": False}, RegistryValue("REG_SZ", "x"), "non_compliant", id="present-but-forbidden"),
    pytest.param({"equals": 1}, RegistryValue("REG_DWORD", 1), "compliant", id="dword-equal"),
    pytest.param({"equals": 1}, RegistryValue("REG_DWORD", 0), "non_compliant", id="dword-differs"),
    pytest.param({"equals": 1}, RegistryValue("REG_SZ", "1"), "compliant", id="decimal-string"),
    pytest.param({"equals": "on"}, RegistryValue("REG_MULTI_SZ", ["off", "on"]), "compliant", id="multi-sz"),
    pytest.param({"equals": "on"}, RegistryValue("REG_SZ", "hunter2"), "non_compliant", id="string-differs"),
])
def test_registry(fields: dict, value: RegistryValue | None, status: str) -> None:
    host = recorded_host("windows", registry={(KEY, "Setting"): value} if value else {})
    result = evaluate(check(type="registry", key=KEY, value="Setting", **fields), host)
    assert result.status == status, result.evidence
    assert "hunter2" not in result.evidence, "string data may be a secret"


def test_registry_is_not_applicable_off_windows() -> None:
    result = evaluate(check(type="registry", key=KEY, value="Setting"), recorded_host("linux"))
    assert (result.status, result.evidence) == ("not_applicable", "registry checks apply to windows, not linux")


@pytest.mark.parametrize(("registry", "status", "evidence"), [
    pytest.param({(INACTIVITY_KEY, "InactivityTimeoutSecs"): RegistryValue("REG_DWORD", 600)}, "compliant",
                 "machine inactivity limit 600 s (at most 900)", id="inactivity-limit"),
    pytest.param({(SCREENSAVER_KEY, "ScreenSaveActive"): RegistryValue("REG_SZ", "1"),
                  (SCREENSAVER_KEY, "ScreenSaverIsSecure"): RegistryValue("REG_SZ", "1"),
                  (SCREENSAVER_KEY, "ScreenSaveTimeOut"): RegistryValue("REG_SZ", "1200")}, "non_compliant",
                 "screen saver policy locks after 1200 s; at most 900 s allowed", id="screensaver-too-long"),
    pytest.param({(SCREENSAVER_KEY, "ScreenSaveActive"): RegistryValue("REG_SZ", "1"),
                  (SCREENSAVER_KEY, "ScreenSaverIsSecure"): RegistryValue("REG_SZ", "1"),
                  (SCREENSAVER_KEY, "ScreenSaveTimeOut"): RegistryValue("REG_SZ", "600")}, "compliant",
                 "screen saver policy locks after 600 s (at most 900)", id="screensaver-ok"),
    pytest.param({}, "non_compliant", "neither a machine inactivity limit nor a screen saver lock policy is set",
                 id="nothing-set"),
])
def test_windows_screen_lock(registry: dict, status: str, evidence: str) -> None:
    result = evaluate(check(type="screenLock", maxTimeoutSeconds=900), recorded_host("windows", registry=registry))
    assert (result.status, result.evidence) == (status, evidence)


def test_macos_screen_lock() -> None:
    lock = ("sysadminctl", "-screenLock", "status")
    idle = ("defaults", "read", "/Library/Preferences/com.apple.screensaver", "idleTime")
    host = recorded_host("macos", {lock: out(stderr=fixture("macos/sysadminctl-screenlock.txt")), idle: out("300\n")})
    result = evaluate(check(type="screenLock", maxTimeoutSeconds=600), host)
    assert (result.status, result.evidence) == ("compliant",
                                                "locks after 305 s (idle 300 + delay 5); at most 600 allowed")
    off = recorded_host("macos", {lock: out(stderr=fixture("macos/sysadminctl-screenlock-off.txt")), idle: out("300")})
    assert evaluate(check(type="screenLock", maxTimeoutSeconds=600), off).status == "non_compliant"
    unset = recorded_host("macos", {lock: out(stderr=fixture("macos/sysadminctl-screenlock.txt")),
                                    idle: out(code=1, stderr="does not exist")})
    assert evaluate(check(type="screenLock", maxTimeoutSeconds=600), unset).status == "non_compliant"


def test_gnome_missing_is_not_applicable() -> None:
    result = evaluate(check(type="screenLock", maxTimeoutSeconds=600), recorded_host("linux"))
    assert result.status == "not_applicable"
    assert "gsettings is not installed" in result.evidence


# --- firewall -------------------------------------------------------------------------------

def test_windows_firewall_needs_every_profile() -> None:
    host = recorded_host("windows", {powershell(WINDOWS_PROFILES): out(fixture("windows/firewall-profiles.txt"))})
    result = evaluate(check(type="firewall"), host)
    assert (result.status, result.evidence) == ("non_compliant",
                                                "firewall profiles: Domain on, Private on, Public off")
    assert evaluate(check(type="firewall", enabled=False), host).status == "non_compliant"


@pytest.mark.parametrize(("recording", "status"), [
    pytest.param("socketfilterfw-on.txt", "compliant", id="on"),
    pytest.param("socketfilterfw-off.txt", "non_compliant", id="off"),
])
def test_macos_firewall(recording: str, status: str) -> None:
    host = recorded_host("macos", {(MACOS_SOCKETFILTERFW, "--getglobalstate"): out(fixture(f"macos/{recording}"))})
    assert evaluate(check(type="firewall"), host).status == status


def test_linux_firewall_any_tool_enabling_counts() -> None:
    answers = {("ufw", "status"): out(fixture("linux/ufw-inactive.txt")),
               ("nft", "-j", "list", "ruleset"): out(fixture("linux/nft-ruleset-drop.json")),
               ("iptables", "-S", "INPUT"): out(fixture("linux/iptables-accept.txt"))}
    result = evaluate(check(type="firewall"), recorded_host("linux", answers))
    assert result.status == "compliant"
    assert result.evidence == ("firewall enabled: ufw inactive; nftables: 1 input chain(s), 1 rule(s), policy drop; "
                               "iptables: INPUT policy ACCEPT, 0 rule(s)")
    answers[("nft", "-j", "list", "ruleset")] = out(fixture("linux/nft-ruleset-empty.json"))
    assert evaluate(check(type="firewall"), recorded_host("linux", answers)).status == "non_compliant"
    assert evaluate(check(type="firewall", enabled=False), recorded_host("linux", answers)).status == "compliant"


def test_linux_firewall_without_any_usable_tool_is_an_error() -> None:
    result = evaluate(check(type="firewall"), recorded_host("linux"))
    assert result.status == "error"
    assert "none of ufw, firewall-cmd, nft, iptables is installed" in result.evidence
    refused = recorded_host("linux", {("nft", "-j", "list", "ruleset"):
                                      out(code=1, stderr="Operation not permitted (you must be root)")})
    result = evaluate(check(type="firewall"), refused)
    assert (result.status, result.evidence) == (
        "error", "no firewall tool could answer: nft: nft list ruleset exited with 1: Operation not permitted "
                 "(you must be root)")


# --- update age, admins, encryption ----------------------------------------------------------

@pytest.mark.parametrize(("days", "status"), [pytest.param(30, "compliant", id="recent"),
                                              pytest.param(10, "non_compliant", id="too-old")])
def test_windows_update_age(days: int, status: str) -> None:
    host = recorded_host("windows", {powershell(WINDOWS_HOTFIX_DATES): out(fixture("windows/hotfix-dates.txt"))})
    result = evaluate(check(type="osUpdateAge", maxDays=days), host)
    assert result.status == status
    assert result.evidence.startswith("newest hotfix 2024-05-14 00:00 UTC, 18 days ago")


def test_macos_update_age() -> None:
    host = recorded_host("macos", {("softwareupdate", "--history"): out(fixture("macos/softwareupdate-history.txt"))})
    result = evaluate(check(type="osUpdateAge", maxDays=30), host)
    assert result.status == "compliant"
    assert "newest softwareupdate install 2024-05-1" in result.evidence  # local time, so the 14th or 13th/15th
    never = recorded_host("macos", {("softwareupdate", "--history"): out("Display Name  Version  Date\n")})
    assert evaluate(check(type="osUpdateAge", maxDays=30), never).status == "non_compliant"


@pytest.mark.parametrize(("fields", "status", "evidence"), [
    pytest.param({"allowed": ["Administrator", "alice", "bob@contoso.com"]}, "compliant",
                 r"Administrators: AzureAD\bob@contoso.com, WS01\Administrator, WS01\alice", id="all-allowed"),
    pytest.param({"allowed": ["administrator", "ALICE"]}, "non_compliant",
                 r"not allowed: AzureAD\bob@contoso.com; Administrators: AzureAD\bob@contoso.com, "
                 r"WS01\Administrator, WS01\alice", id="extra"),
    pytest.param({"allowed": ["Administrator", "alice", "bob@contoso.com", "carol"], "match": "exact"},
                 "non_compliant", r"missing: carol; Administrators: AzureAD\bob@contoso.com, WS01\Administrator, "
                                  r"WS01\alice", id="exact-missing"),
])
def test_windows_local_admins(fields: dict, status: str, evidence: str) -> None:
    host = recorded_host("windows", {powershell(WINDOWS_ADMINISTRATORS): out(fixture("windows/administrators.txt"))})
    result = evaluate(check(type="localAdmins", **fields), host)
    assert (result.status, result.evidence) == (status, evidence)


def test_macos_local_admins() -> None:
    host = recorded_host("macos", {("dscl", ".", "-read", "/Groups/admin", "GroupMembership"):
                                   out(fixture("macos/dscl-admin.txt"))})
    assert evaluate(check(type="localAdmins", allowed=["root", "alice"], match="exact"), host).status == "compliant"
    result = evaluate(check(type="localAdmins", allowed=["root"]), host)
    assert (result.status, result.evidence) == ("non_compliant", "not allowed: alice; admin: alice, root")


@pytest.mark.parametrize(("volumes", "status", "evidence"), [
    pytest.param("system", "compliant", "encrypted: / on vg0-root (lvm) < luks-0b1c2d3e (crypt) < nvme0n1p3 (part) "
                                        "< nvme0n1 (disk)", id="root-on-luks"),
    pytest.param("all", "non_compliant", "not on dm-crypt: /srv/data on sda1 (part) < sda (disk)", id="data-plain"),
])
def test_linux_encryption_from_lsblk(volumes: str, status: str, evidence: str) -> None:
    host = recorded_host("linux", {tuple(LSBLK): out(fixture("linux/lsblk-luks.json"))})
    result = evaluate(check(type="diskEncryption", volumes=volumes), host)
    assert (result.status, result.evidence) == (status, evidence)


def test_windows_bitlocker() -> None:
    host = recorded_host("windows", {powershell(WINDOWS_BITLOCKER): out(fixture("windows/bitlocker.txt"))})
    assert evaluate(check(type="diskEncryption"), host).status == "compliant"
    result = evaluate(check(type="diskEncryption", volumes="all"), host)
    assert (result.status, result.evidence) == ("non_compliant", "D: FixedDataDrive protection Off (FullyDecrypted)")


def test_macos_filevault() -> None:
    on = recorded_host("macos", {("fdesetup", "status"): out(fixture("macos/fdesetup-on.txt"))})
    off = recorded_host("macos", {("fdesetup", "status"): out(fixture("macos/fdesetup-off.txt"))})
    assert evaluate(check(type="diskEncryption"), on).status == "compliant"
    assert evaluate(check(type="diskEncryption"), off).status == "non_compliant"
    assert evaluate(check(type="diskEncryption", volumes="all"), on).status == "not_applicable"


# --- the rest on Windows: processes, volumes, packages, files ---------------------------------

def test_windows_process_names_ignore_case_and_exe() -> None:
    host = recorded_host("windows", processes=lambda: {"MsMpEng.exe", "explorer.exe"})
    assert evaluate(check(type="process", process="msmpeng"), host).status == "compliant"
    assert evaluate(check(type="process", process="MsMpEng.exe", running=False), host).status == "non_compliant"


def test_windows_drive_letters_compare_loosely() -> None:
    volumes = [VolumeUsage("C:\\", "NTFS", 100 << 30, 30 << 30)]
    host = recorded_host("windows", volumes=lambda: volumes)
    result = evaluate(check(type="diskFree", mount="c:", minFreePercent=20), host)
    assert (result.status, result.evidence) == ("compliant", "C:\\ 30.0 GiB free (30%)")


def test_windows_file_mode_is_not_applicable() -> None:
    result = evaluate(check(type="file", path="C:\\Windows\\win.ini", mode="0644"), recorded_host("windows"))
    assert result.status == "not_applicable"
