"""Evaluators on this Linux machine for real: files, processes, packages, disks, logs, groups, scripts."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import TypeAdapter

from agent.policies.checks import EVALUATORS, Host, ScriptSource, evaluate
from schemas.checks import CHECK_OS, Check
from schemas.protocol import SoftwareItem
from schemas.scripts import ScriptParameter

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="evaluates this Linux machine")
CHECK: TypeAdapter[Any] = TypeAdapter(Check)


def check(**fields: Any) -> Any:
    return CHECK.validate_python({"name": "c", **fields})


def test_every_check_type_has_an_evaluator() -> None:
    assert set(EVALUATORS) == set(CHECK_OS)


# --- files ----------------------------------------------------------------------------------

@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sshd_config"
    path.write_text("Port 22\nPermitRootLogin no\nPasswordAuthentication no\n")
    path.chmod(0o640)
    return path


def test_file_everything_matches(config: Path) -> None:
    digest = hashlib.sha256(config.read_bytes()).hexdigest()
    result = evaluate(check(type="file", path=str(config), contains=r"^PermitRootLogin\s+no$", sha256=digest,
                            mode="0640", owner=psutil.Process().username()), Host())
    assert result.status == "compliant", result.evidence
    assert "line 2 matches" in result.evidence and "PermitRootLogin" not in result.evidence.split("matches")[0]


@pytest.mark.parametrize(("fields", "evidence_part"), [
    pytest.param({"contains": r"^PermitRootLogin\s+yes"}, "no line matches", id="contains"),
    pytest.param({"sha256": "0" * 64}, "sha256 ", id="sha256"),
    pytest.param({"mode": "600"}, "mode 0640, should be 0600", id="mode"),
    pytest.param({"owner": "nobody"}, "should be nobody", id="owner"),
])
def test_file_mismatches(config: Path, fields: dict, evidence_part: str) -> None:
    result = evaluate(check(type="file", path=str(config), **fields), Host())
    assert result.status == "non_compliant"
    assert evidence_part in result.evidence


def test_file_presence_and_absence(tmp_path: Path, config: Path) -> None:
    missing = tmp_path / "nope"
    assert evaluate(check(type="file", path=str(missing)), Host()).status == "non_compliant"
    assert evaluate(check(type="file", path=str(missing), exists=False), Host()).status == "compliant"
    assert evaluate(check(type="file", path=str(config), exists=False), Host()).status == "non_compliant"
    result = evaluate(check(type="file", path=str(tmp_path), contains="x"), Host())
    assert (result.status, result.evidence) == ("error", f"{tmp_path} is not a regular file; contains/sha256 need one")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_an_error(config: Path) -> None:  # pragma: no cover - CI runs as root
    config.chmod(0)
    assert evaluate(check(type="file", path=str(config), contains="Port"), Host()).status == "error"


# --- processes, packages, disks -------------------------------------------------------------

def test_process_running_on_this_machine() -> None:
    me = psutil.Process().name()
    assert evaluate(check(type="process", process=me), Host()).status == "compliant"
    assert evaluate(check(type="process", process=me, running=False), Host()).status == "non_compliant"
    assert evaluate(check(type="process", process="no-such-process-fleetward"), Host()).status == "non_compliant"


INVENTORY = [SoftwareItem(name="openssl", version="3.0.11-1~deb12u2", source="dpkg"),
             SoftwareItem(name="OpenSSL", version="1.1.1w", source="other"),
             SoftwareItem(name="curl", version="7.88.1-10+deb12u5", source="dpkg")]


@pytest.mark.parametrize(("fields", "status"), [
    pytest.param({"package": "curl"}, "compliant", id="installed"),
    pytest.param({"package": "CURL", "version": ">=7.88"}, "compliant", id="at-least-case-insensitive"),
    pytest.param({"package": "curl", "version": ">=7.88.1-10+deb12u6"}, "non_compliant", id="too-old"),
    pytest.param({"package": "curl", "version": "7.88.1-10+deb12u5"}, "compliant", id="exact"),
    pytest.param({"package": "curl", "version": "7.88.1"}, "non_compliant", id="exact-differs"),
    pytest.param({"package": "openssl", "version": ">=3.0.11"}, "compliant", id="any-copy-satisfies"),
    pytest.param({"package": "openssl", "version": ">=3.0.11", "installed": False}, "non_compliant",
                 id="forbidden-version-present"),
    pytest.param({"package": "telnet", "installed": False}, "compliant", id="absent"),
    pytest.param({"package": "telnet"}, "non_compliant", id="missing"),
])
def test_package_against_an_inventory(fields: dict, status: str) -> None:
    result = evaluate(check(type="package", **fields), Host(software=lambda: INVENTORY))
    assert result.status == status, result.evidence


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="the real inventory test reads dpkg")
def test_package_in_the_real_inventory() -> None:
    result = evaluate(check(type="package", package="dpkg", version=">=1.0"), Host())
    assert result.status == "compliant", result.evidence


def test_disk_free_on_the_real_root() -> None:
    host = Host()
    assert evaluate(check(type="diskFree", mount="/", minFreePercent=0.0001), host).status == "compliant"
    too_much = evaluate(check(type="diskFree", mount="/", minFreeGib=999_999), host)
    assert too_much.status == "non_compliant" and too_much.evidence.startswith("too little free: / ")
    assert evaluate(check(type="diskFree", mount="/no/such/mount", minFreeGib=1), host).status == "error"


# --- update age from package logs -----------------------------------------------------------

def test_update_age_from_apt_history_and_its_rotations(tmp_path: Path) -> None:
    history = tmp_path / "history.log"
    history.write_text("Start-Date: 2024-05-01  10:00:00\nUpgrade: a (1, 2)\nEnd-Date: 2024-05-01  10:00:05\n")
    with gzip.open(tmp_path / "history.log.2.gz", "wt") as rotated:
        rotated.write("End-Date: 2024-04-01  10:00:05\n")
    now = datetime(2024, 5, 21, 12, tzinfo=UTC)
    host = Host(places={"apt-history": history}, clock=lambda: now)
    assert evaluate(check(type="osUpdateAge", maxDays=30), host).status == "compliant"
    result = evaluate(check(type="osUpdateAge", maxDays=7), host)
    assert result.status == "non_compliant" and "last apt transaction 2024-05-01" in result.evidence
    history.unlink()
    result = evaluate(check(type="osUpdateAge", maxDays=7), host)
    assert "last apt transaction 2024-04-01" in result.evidence


def test_update_age_falls_back_to_dpkg_log_then_says_it_cannot_tell(tmp_path: Path) -> None:
    dpkg = tmp_path / "dpkg.log"
    dpkg.write_text("2024-05-20 08:00:00 status installed curl:amd64 7.88.1\n")
    host = Host(places={"apt-history": tmp_path / "none.log", "dpkg-log": dpkg},
                clock=lambda: datetime(2024, 5, 21, 12, tzinfo=UTC), runner=_no_rpm)
    assert evaluate(check(type="osUpdateAge", maxDays=7), host).status == "compliant"
    dpkg.unlink()
    result = evaluate(check(type="osUpdateAge", maxDays=7), host)
    assert (result.status, result.evidence) == ("error", "no package history found (apt history, dpkg.log or rpm)")


def _no_rpm(argv: Any, env: Any) -> Any:
    from agent.policies.checks import CommandMissing

    raise CommandMissing(argv[0])


@pytest.mark.skipif(not Path("/var/log/apt/history.log").exists(), reason="no apt history on this machine")
def test_update_age_from_this_machines_apt_history() -> None:
    result = evaluate(check(type="osUpdateAge", maxDays=3650), Host())
    assert result.status == "compliant", result.evidence
    assert result.evidence.startswith("last apt transaction ")


# --- local admins, screen lock, encryption, service, firewall on this machine ----------------

def test_local_admins_from_groups() -> None:
    groups = {"sudo": ["alice", "bob"], "wheel": ["alice"]}
    host = Host(group_members=groups.get)
    assert evaluate(check(type="localAdmins", allowed=["alice", "bob", "carol"]), host).status == "compliant"
    result = evaluate(check(type="localAdmins", allowed=["alice"]), host)
    assert (result.status, result.evidence) == ("non_compliant", "not allowed: bob; sudo+wheel: alice, bob")


def test_local_admins_on_this_machine() -> None:
    result = evaluate(check(type="localAdmins", allowed=[]), Host())
    # Whatever this machine has, the evidence lists exactly what the groups say.
    assert result.status in ("compliant", "non_compliant")
    import grp

    present = [name for name in ("sudo", "wheel", "admin") if name in {g.gr_name for g in grp.getgrall()}]
    assert result.evidence.endswith(": no members") or ("+".join(present) in result.evidence)


@pytest.mark.skipif(shutil.which("gsettings") is None, reason="gsettings not installed")
def test_gnome_screen_lock_read_with_gsettings() -> None:
    result = evaluate(check(type="screenLock", maxTimeoutSeconds=86_400), Host())
    if result.status == "not_applicable":
        assert "schemas are not installed" in result.evidence
    else:
        assert result.status in ("compliant", "non_compliant") and "GNOME" in result.evidence


@pytest.mark.skipif(shutil.which("lsblk") is None, reason="lsblk not installed")
def test_disk_encryption_of_this_machine_is_answered() -> None:
    result = evaluate(check(type="diskEncryption"), Host())
    assert result.status in ("compliant", "non_compliant", "error")
    assert result.evidence.startswith(("encrypted: / on", "not on dm-crypt: / on", "lsblk shows no device"))


def test_service_without_systemd_is_an_error_not_compliant() -> None:
    if Path("/run/systemd/system").exists():
        pytest.skip("this machine runs systemd; the recorded tests cover parsing")
    result = evaluate(check(type="service", service="ssh", state="stopped"), Host())
    assert result.status == "error"
    assert result.evidence.startswith(("systemctl show exited with", "systemctl is not installed"))


# --- script checks --------------------------------------------------------------------------

def script_host(text: str, tmp_path: Path, **options: Any) -> Host:
    data = text.encode()
    source = ScriptSource(name="check-it", shell="sh", content=data, sha256=hashlib.sha256(data).hexdigest(),
                          timeout_seconds=10, parameters=(ScriptParameter(name="limit", type="integer", default=5),),
                          **options)
    return Host(scripts={"check-it": source}.get, script_root=tmp_path)


@pytest.mark.parametrize(("body", "fields", "status", "evidence"), [
    pytest.param('echo "limit is $PARAM_limit"; exit 0', {"params": {"limit": 7}}, "compliant",
                 "exit code 0: limit is 7", id="compliant-with-param"),
    pytest.param("echo 'two admins too many'; exit 1", {}, "non_compliant", "exit code 1: two admins too many",
                 id="non-compliant"),
    pytest.param("echo broken; exit 3", {}, "error", "script 'check-it': exit code 3; broken", id="other-code"),
    pytest.param("echo 'state: off'", {"outputMatches": "state: on"}, "non_compliant",
                 "output does not match 'state: on'; state: off", id="output-must-match"),
    pytest.param("exit 4", {"expectExitCode": 4}, "compliant", "exit code 4: (no output)", id="expected-code"),
    pytest.param("echo bad >&2; kill -KILL $$", {}, "error", "script 'check-it': killed by SIGKILL; (no output); "
                                                            "stderr: bad", id="signal"),
])
def test_script_checks(tmp_path: Path, body: str, fields: dict, status: str, evidence: str) -> None:
    result = evaluate(check(script="check-it", **fields), script_host(body + "\n", tmp_path))
    assert (result.status, result.evidence) == (status, evidence)


def test_script_check_errors(tmp_path: Path) -> None:
    host = script_host("exit 0\n", tmp_path)
    assert evaluate(check(script="other"), host).evidence == "script 'other' was not delivered with the policy"
    result = evaluate(check(script="check-it", params={"colour": "red"}), host)
    assert result.status == "error" and "declares no parameter 'colour'" in result.evidence
    tampered = Host(scripts=lambda name: ScriptSource(name="check-it", shell="sh", content=b"exit 0\n",
                                                      sha256="0" * 64, timeout_seconds=5))
    result = evaluate(check(script="check-it"), tampered)
    assert result.status == "error" and "not the expected" in result.evidence
    windows_only = script_host("exit 0\n", tmp_path, os=("windows",))
    assert evaluate(check(script="check-it"), windows_only).status == "not_applicable"


def test_an_evaluator_bug_costs_one_check_not_the_caller() -> None:
    def broken() -> list[SoftwareItem]:
        raise RuntimeError("boom")

    result = evaluate(check(type="package", package="curl"), Host(software=broken))
    assert (result.status, result.evidence) == ("error", "internal agent error: RuntimeError")
