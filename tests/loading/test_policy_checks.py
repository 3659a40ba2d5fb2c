"""Policy checks of every type load; a wrong one is reported at its line and column."""

from __future__ import annotations

import pytest

from controller.loading import DirectorySource, check_files, load_revision
from schemas.checks import CHECK_OS, DiskFreeCheck, FileCheck, RegistryCheck, ScriptCheck
from schemas.policies import Policy
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP
from tests.support.gitrepos import write_files

SCRIPTS = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: disk-free}
spec:
  shell: bash
  file: scripts/disk-free.sh
  os: [linux]
  parameters: [{name: min_percent, type: integer}]
---
apiVersion: fleetward/v1
kind: Script
metadata: {name: clean-temp}
spec:
  shell: bash
  file: scripts/clean-temp.sh
  os: [linux]
  parameters: [{name: days, type: integer, default: 7}]
"""

HEAD = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: baseline}
spec:
  targets: {group: linux-boxes}
  checks:
"""


def load(tmp_path, checks: str):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "groups/linux.yaml": LINUX_GROUP,
                           "scripts/library.yaml": SCRIPTS, "clients/acme/policy.yaml": HEAD + checks,
                           "scripts/disk-free.sh": "#!/bin/bash\nexit 0\n",
                           "scripts/clean-temp.sh": "#!/bin/bash\nexit 0\n"})
    return tmp_path


def test_every_check_type_loads_and_a_check_without_type_is_a_script_check(tmp_path):
    source = DirectorySource(load(tmp_path, """\
    - {name: free, script: disk-free, params: {min_percent: 15}, remediation: clean-temp}
    - {name: ssh, type: service, service: ssh, startMode: automatic}
    - {name: agent, type: process, process: fleetward-agent}
    - {name: motd, type: file, path: /etc/motd, contains: "^Authorised", mode: "0644"}
    - {name: smb1, type: registry, key: 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\mrxsmb10', value: Start,
       equals: 4}
    - {name: curl, type: package, package: curl, version: ">=7.88"}
    - {name: room, type: diskFree, mount: /, minFreePercent: 10,
       remediation: {script: clean-temp, params: {days: 7}}}
    - {name: fw, type: firewall}
    - {name: updates, type: osUpdateAge, maxDays: 30}
    - {name: admins, type: localAdmins, allowed: [root, itadmin]}
    - {name: lock, type: screenLock, maxTimeoutSeconds: 900}
    - {name: crypt, type: diskEncryption}
"""))
    (loaded,) = load_revision(source).resources["Policy"].values()
    policy = loaded.resource
    assert isinstance(policy, Policy)
    types = [check.type for check in policy.spec.checks]
    assert types == list(CHECK_OS)
    first, _, _, motd, smb1, _, room, *_ = policy.spec.checks
    assert isinstance(first, ScriptCheck) and first.remediation is not None
    assert first.remediation.script == "clean-temp"
    assert isinstance(motd, FileCheck) and motd.mode == "0644"
    assert isinstance(smb1, RegistryCheck) and smb1.equals == 4
    assert isinstance(room, DiskFreeCheck) and room.remediation is not None
    assert room.remediation.params == {"days": 7}


def test_a_remediation_script_that_does_not_exist_is_reported_where_it_is_named(tmp_path):
    source = DirectorySource(load(tmp_path, "    - {name: fw, type: firewall, remediation: no-such-fix}\n"))
    assert [str(p) for p in check_files(source)] == [
        "clients/acme/policy.yaml:7:47: no Script 'no-such-fix' in clients/acme/ or MSP-wide"]


@pytest.mark.parametrize(("check", "where", "says"), [
    ("{name: x, type: nope}", "7:7", "'service', 'process', 'file'"),
    ("{name: x, type: file, path: /a, exists: false, sha256: " + "ab" * 32 + "}", "7:7",
     "a file that must not exist cannot also have contains/sha256/mode/owner"),
    ("{name: x, type: diskFree}", "7:7", "diskFree needs minFreePercent or minFreeGib"),
    ("{name: x, type: registry, key: 'SOFTWARE\\X', value: v}", "7:", "HKLM"),
    ("{name: x, type: osUpdateAge, maxDays: 0}", "7:", "greater than or equal to 1"),
])
def test_a_wrong_check_is_reported_at_its_place(tmp_path, check, where, says):
    (problem,) = [str(p) for p in check_files(DirectorySource(load(tmp_path, f"    - {check}\n")))]
    assert problem.startswith(f"clients/acme/policy.yaml:{where}"), problem
    assert says in problem, problem


@pytest.mark.parametrize(("check", "expected"), [
    pytest.param("{name: free, script: disk-free, params: {min_percent: '15'}}",
                 "clients/acme/policy.yaml:7:61: parameter min_percent must be an integer, got '15' "
                 "(Script 'disk-free')", id="wrong-type"),
    pytest.param("{name: free, script: disk-free, params: {min_pct: 15}}",
                 "clients/acme/policy.yaml:7:48: Script 'disk-free' has no parameter 'min_pct' "
                 "(did you mean 'min_percent'?)", id="unknown"),
    pytest.param("{name: fw, type: firewall, remediation: {script: clean-temp, params: {days: true}}}",
                 "clients/acme/policy.yaml:7:83: parameter days must be an integer, got true "
                 "(Script 'clean-temp')", id="remediation-wrong-type"),
    pytest.param("{name: free, script: needy}",
                 "clients/acme/policy.yaml:7:28: Script 'needy' needs the parameter path; add them under params",
                 id="missing-required"),
])
def test_inline_script_params_are_checked_against_the_scripts_parameters(tmp_path, check, expected):
    needy = ("---\napiVersion: fleetward/v1\nkind: Script\nmetadata: {name: needy}\nspec:\n  shell: bash\n"
             "  file: scripts/disk-free.sh\n  os: [linux]\n  parameters: [{name: path, required: true}]\n")
    root = load(tmp_path, f"    - {check}\n")
    (root / "scripts/library.yaml").write_text(SCRIPTS + needy)
    assert [str(p) for p in check_files(DirectorySource(root))] == [expected]
