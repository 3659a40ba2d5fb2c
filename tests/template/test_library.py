"""The template's script and policy-template library: it loads, every template renders, every Linux
script runs for real against a sandbox tree with the documented exit codes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from controller.bundled import bundled_dir
from controller.desired import DesiredState
from controller.loading import DirectorySource, load_revision
from controller.loading.files import load_file
from controller.loading.parameters import parameter_problems, with_defaults
from controller.loading.sources import SourceFile
from controller.loading.templating import expand
from schemas.checks import ScriptCheck
from schemas.scripts import SHELL_OS, Script
from schemas.templates import PolicyTemplate

TEMPLATE = bundled_dir("fleet_repo_template")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


@pytest.fixture(scope="module")
def desired() -> DesiredState:
    return load_revision(DirectorySource(TEMPLATE))


def scripts(desired: DesiredState) -> dict[str, Script]:
    return {name: loaded.resource for (_, name), loaded in desired.of_kind(Script).items()}


def templates(desired: DesiredState) -> dict[str, PolicyTemplate]:
    return {name: loaded.resource for (_, name), loaded in desired.of_kind(PolicyTemplate).items()}


SAMPLES = {"service": "nginx", "pidfile": "/run/app.pid", "allowed": ["root", "itadmin"]}
"""Values for required parameters, by name."""


def test_the_library_is_big_enough_and_spans_the_three_systems(desired):
    library = scripts(desired)
    assert len(library) >= 30 and len(templates(desired)) >= 25
    shells = {script.spec.shell for script in library.values()}
    assert {"bash", "powershell", "zsh"} <= shells
    assert {os for script in library.values() for os in script.spec.os} == {"linux", "windows", "macos"}


def test_every_script_has_metadata_and_a_file_that_matches_its_shell(desired):
    for name, script in scripts(desired).items():
        spec = script.spec
        assert spec.description and spec.category != "general", name
        assert set(spec.os) <= SHELL_OS[spec.shell] and (spec.shell != "powershell" or spec.os == ["windows"]), name
        assert spec.file.startswith(f"library/scripts/{spec.os[0]}/"), name
        suffix = {"bash": ".sh", "sh": ".sh", "zsh": ".zsh", "powershell": ".ps1", "python": ".py"}[spec.shell]
        assert spec.file.endswith(suffix), name
        assert all(parameter.description for parameter in spec.parameters), name
        text = desired.script_files[spec.file].text
        used = set(re.findall(r"PARAM_([A-Za-z0-9_]+)", text))
        assert used == {parameter.name for parameter in spec.parameters}, f"{name}: script reads {used}"


@pytest.mark.parametrize("shell", ["bash", "sh", "zsh"])
def test_every_posix_script_parses(desired, shell):
    program = shutil.which(shell)
    if program is None:
        pytest.skip(f"{shell} is not installed on this machine, so its scripts cannot be syntax-checked")
    files = [s.spec.file for s in scripts(desired).values() if s.spec.shell == shell]
    if not files:
        pytest.skip(f"no {shell} scripts in the library")
    for file in files:
        done = subprocess.run([program, "-n", str(TEMPLATE / file)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{file}: {done.stderr}"
        text = (TEMPLATE / file).read_text()
        assert "set -euo pipefail" in text, file


def test_powershell_scripts_declare_their_parameters_and_exit_codes(desired):
    for name, script in scripts(desired).items():
        if script.spec.shell != "powershell":
            continue
        text = desired.script_files[script.spec.file].text
        assert text.startswith("# "), f"{name}: starts with a comment saying what it does"
        assert "$ErrorActionPreference = 'Stop'" in text, name
        assert re.search(r"^\s*exit 0$", text, re.M), name
        assert text.count("{") == text.count("}") and text.count("(") == text.count(")"), name
        for parameter in script.spec.parameters:
            assert f"$env:PARAM_{parameter.name}" in text, f"{name} does not read $env:PARAM_{parameter.name}"
        check = "Check:" in text.splitlines()[0]
        if check:
            assert re.search(r"^\s*exit 1$", text, re.M), f"{name}: a check exits 1 when non-compliant"


def _render(template: PolicyTemplate, desired: DesiredState, params: dict) -> list:
    location = next(loaded.location for loaded in desired.of_kind(PolicyTemplate).values()
                    if loaded.resource is template)
    raw = (TEMPLATE / location.path).read_bytes()
    (candidate,) = load_file(SourceFile(location.path, len(raw), lambda: raw), None).candidates
    checks, problems = expand(template, candidate.document, params, "library-test")
    assert checks is not None, problems
    library = scripts(desired)
    for check in checks:
        runs = [(check.script, check.params)] if isinstance(check, ScriptCheck) else []
        if check.remediation is not None:
            runs.append((check.remediation.script, check.remediation.params))
        for script, given in runs:
            assert script in library, f"{template.name}: no Script {script}"
            assert parameter_problems(library[script].spec.parameters, given, script) == []
    return checks


def test_every_template_renders_with_its_defaults_and_with_sample_params(desired):
    for name, template in templates(desired).items():
        spec = template.spec
        assert spec.description and spec.category != "general", name
        assert all(parameter.description for parameter in spec.parameters), name
        required = {p.name: SAMPLES[p.name] for p in spec.parameters if p.required}
        _render(template, desired, required)
        samples = dict(required)
        for parameter in spec.parameters:
            if parameter.allowed:
                samples[parameter.name] = parameter.allowed[-1]
            elif parameter.type == "integer":
                samples[parameter.name] = int(parameter.minimum or 1) + 1
        assert parameter_problems(spec.parameters, samples, name) == []
        rendered = _render(template, desired, samples)
        assert len(rendered) == len(spec.checks), name
        assert with_defaults(spec.parameters, samples).keys() == {p.name for p in spec.parameters}


def test_the_docs_index_lists_every_library_entry(desired):
    text = DOCS.read_text()
    for name in [*scripts(desired), *templates(desired)]:
        assert re.search(rf"^\| `{re.escape(name)}` \|", text, re.M), f"docs/policies.md does not list {name}"


# --- Linux scripts, executed for real --------------------------------------------------------------

def _old(path: Path, days: int = 400) -> None:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))


def _cert(folder: Path, name: str, days: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test",
                    "-days", str(days), "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem")],
                   check=True, capture_output=True, timeout=60)


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _stub_systemctl(bin_dir: Path, active: bool) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    stub = bin_dir / "systemctl"
    stub.write_text(f"#!/bin/sh\necho \"$@\" >> \"{bin_dir}/calls\"\n"
                    f"case \"$1\" in is-active) exit {0 if active else 3} ;; esac\nexit 0\n")
    stub.chmod(0o755)


GOOD_SSHD = "PermitRootLogin no\nPasswordAuthentication no\n"
CASES: dict[str, dict[str, object]] = {
    # script name: {"good": (files, params), "bad": (files, params)} with files relative to the sandbox root
    "linux-disk-free": {"good": ({}, {"path": "{root}", "min_free_percent": "1"}),
                        "bad": ({}, {"path": "{root}", "min_free_percent": "100"})},
    "linux-pidfile-watchdog": {"good": ({"app.pid": "{pid}\n"}, {"pidfile": "{root}/app.pid"}),
                               "bad": ({"app.pid": "999999999\n"}, {"pidfile": "{root}/app.pid"})},
    "linux-ssh-hardening-check": {"good": ({"etc/ssh/sshd_config": GOOD_SSHD}, {}),
                                  "bad": ({"etc/ssh/sshd_config": "PermitRootLogin yes\n"}, {})},
    "linux-luks-status": {"good": ({"sys/block/dm-0/dm/uuid": "CRYPT-LUKS2-abc\n"}, {}),
                          "bad": ({"sys/block/dm-0/dm/uuid": "LVM-xyz\n"}, {})},
    "linux-pending-reboot": {"good": ({}, {}), "bad": ({"var/run/reboot-required": ""}, {})},
    "linux-time-sync-check": {"good": ({"etc/chrony/chrony.conf": "pool 2.debian.pool.ntp.org iburst\n"}, {}),
                              "bad": ({"etc/chrony/chrony.conf": "# nothing\n"}, {})},
    "linux-local-admins-audit": {"good": ({"etc/group": "sudo:x:27:root,ops\n"}, {"allowed": "root,ops"}),
                                 "bad": ({"etc/group": "sudo:x:27:root,eve\n"}, {"allowed": "root"})},
    "linux-stale-home-dirs": {"good": ({"home/alice/.keep": ""}, {}), "bad": ({"home/bob/.keep": ""}, {})},
    "linux-auto-updates-check": {
        "good": ({"etc/apt/apt.conf.d/20auto-upgrades": 'APT::Periodic::Unattended-Upgrade "1";\n'}, {}),
        "bad": ({"etc/apt/apt.conf.d/20auto-upgrades": 'APT::Periodic::Unattended-Upgrade "0";\n'}, {})},
    "linux-usb-storage-check": {"good": ({"etc/modprobe.d/usb.conf": "install usb-storage /bin/false\n"}, {}),
                                "bad": ({"etc/modprobe.d/other.conf": "options snd x=1\n"}, {})},
    "linux-password-policy": {"good": ({"etc/login.defs": "PASS_MAX_DAYS 60\nPASS_MIN_LEN 14\n"}, {}),
                              "bad": ({"etc/login.defs": "PASS_MAX_DAYS 99999\nPASS_MIN_LEN 5\n"}, {})},
    "linux-certificates-expiring": {"good": ({}, {"dir": "{root}/good", "days": "30"}),
                                    "bad": ({}, {"dir": "{root}/bad", "days": "30"})},
    "linux-guest-account-off": {"good": ({"etc/passwd": "guest:x:999:999::/home/guest:/usr/sbin/nologin\n"}, {}),
                                "bad": ({"etc/passwd": "guest:x:999:999::/home/guest:/bin/bash\n"}, {})},
    "linux-antivirus-clamav": {"good": ({"var/lib/clamav/daily.cld": "x"}, {}),
                               "bad": ({"var/lib/clamav/main.cvd": "x"}, {})},
    "linux-smbv1-off": {"good": ({"etc/samba/smb.conf": "[global]\n  server min protocol = SMB2_10\n"}, {}),
                        "bad": ({"etc/samba/smb.conf": "[global]\n  server min protocol = NT1\n"}, {})},
    "linux-journal-size": {"good": ({"etc/systemd/journald.conf": "[Journal]\nSystemMaxUse=1G\n"}, {}),
                           "bad": ({"etc/systemd/journald.conf": "[Journal]\nSystemMaxUse=100M\n"}, {})},
    "linux-auditd-log-size": {"good": ({"etc/audit/auditd.conf": "max_log_file = 8\n"}, {}),
                              "bad": ({"etc/audit/auditd.conf": "max_log_file = 2\n"}, {})},
}
"""Check scripts: a compliant and a non-compliant sandbox each."""

FIXES: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    # remediation: (the check that must pass afterwards, files before, params)
    "linux-ssh-hardening-fix": ("linux-ssh-hardening-check", {"etc/ssh/sshd_config": "PermitRootLogin yes\n"}, {}),
    "linux-time-sync-fix": ("linux-time-sync-check", {}, {"servers": "ntp1.example ntp2.example"}),
    "linux-auto-updates-fix": ("linux-auto-updates-check", {"etc/apt/apt.conf.d/50unattended-upgrades": "//\n"}, {}),
    "linux-usb-storage-fix": ("linux-usb-storage-check", {}, {}),
}


def _run(desired: DesiredState, name: str, root: Path, params: dict[str, str],
         path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    script = scripts(desired)[name]
    env = {"PATH": path, "HOME": str(root), "LANG": "C.UTF-8"}
    if any(parameter.name == "root" for parameter in script.spec.parameters):
        env["PARAM_root"] = str(root)
    env |= {f"PARAM_{key}": value.format(root=root, pid=os.getpid()) for key, value in params.items()}
    shell = shutil.which(script.spec.shell)
    assert shell is not None
    return subprocess.run([shell, str(TEMPLATE / script.spec.file)], env=env, cwd=root, capture_output=True,
                          text=True, timeout=60)


def _sandbox(tmp_path: Path, name: str, case: str, files: dict[str, str]) -> Path:
    root = tmp_path / case
    root.mkdir()
    _write(root, {path: text.format(pid=os.getpid()) for path, text in files.items()})
    if name == "linux-stale-home-dirs" and case == "bad":
        _old(root / "home" / "bob")
    if name == "linux-certificates-expiring":
        _cert(root / "good", "long", 365)
        _cert(root / "bad", "short", 5)
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_linux_check_script_exits_0_when_compliant_and_1_when_not(desired, tmp_path, name):
    for case, expected in (("good", 0), ("bad", 1)):
        files, params = CASES[name][case]  # type: ignore[misc]
        root = _sandbox(tmp_path, name, case, files)
        done = _run(desired, name, root, params)
        assert done.returncode == expected, f"{name} ({case}): {done.stdout}{done.stderr}"
        assert done.stdout.strip(), f"{name} ({case}) prints evidence"


def test_a_linux_check_script_reports_bad_input_as_an_error(desired, tmp_path):
    done = _run(desired, "linux-disk-free", tmp_path, {"path": "/", "min_free_percent": "ten"})
    assert done.returncode == 2 and "whole number" in done.stdout


@pytest.mark.parametrize("name", sorted(FIXES))
def test_a_linux_remediation_fixes_its_check_and_is_idempotent(desired, tmp_path, name):
    check, files, params = FIXES[name]
    _write(tmp_path, files)
    assert _run(desired, check, tmp_path, {}).returncode == 1
    first = _run(desired, name, tmp_path, params)
    assert first.returncode == 0, first.stdout + first.stderr
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = _run(desired, name, tmp_path, params)
    assert again.returncode == 0 and {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot
    after = _run(desired, check, tmp_path, {})
    assert after.returncode == 0, after.stdout


def test_tmp_cleanup_removes_only_old_files(desired, tmp_path):
    _write(tmp_path, {"old/a.log": "x", "new.log": "y"})
    _old(tmp_path / "old" / "a.log")
    done = _run(desired, "linux-tmp-cleanup", tmp_path, {"dir": str(tmp_path), "days": "7"})
    assert done.returncode == 0 and "removed 1 file" in done.stdout
    assert not (tmp_path / "old" / "a.log").exists() and (tmp_path / "new.log").exists()


@pytest.mark.parametrize(("active", "expected"), [(True, 0), (False, 1)])
def test_service_restart_calls_systemctl_and_reports_the_outcome(desired, tmp_path, active, expected):
    _stub_systemctl(tmp_path / "bin", active)
    done = _run(desired, "linux-service-restart", tmp_path, {"service": "nginx.service"},
                path=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert done.returncode == expected, done.stdout + done.stderr
    assert (tmp_path / "bin" / "calls").read_text().splitlines()[0] == "restart -- nginx.service"
    refused = _run(desired, "linux-service-restart", tmp_path, {"service": "x; rm -rf /"},
                   path=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert refused.returncode == 2


def test_every_linux_script_is_executed_by_a_test(desired):
    exercised = set(CASES) | set(FIXES) | {"linux-tmp-cleanup", "linux-service-restart"}
    linux = {name for name, script in scripts(desired).items() if script.spec.os == ["linux"]}
    assert linux == exercised
