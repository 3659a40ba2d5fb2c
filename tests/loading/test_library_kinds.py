"""Script, Policy, AlertTicketRule and License load, and their references are checked."""

from __future__ import annotations

from controller.loading import DirectorySource, check_files, load_revision
from schemas.policies import Policy
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP
from tests.support.gitrepos import write_files

SCRIPT = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: disk-free}
spec:
  shell: bash
  file: scripts/disk-free.sh
  os: [linux]
  parameters:
    - {name: min_percent, type: integer, default: 10}
"""

POLICY = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: enough-disk}
spec:
  targets: {group: linux-boxes}
  checks:
    - {name: free, script: disk-free, params: {min_percent: 15}}
"""

RULE = """\
apiVersion: fleetward/v1
kind: AlertTicketRule
metadata: {name: critical-disk}
spec:
  match: {alertTypes: [disk_free], severities: [critical], groups: [linux-boxes]}
  routing: {priority: high}
"""

LICENSE = """\
apiVersion: fleetward/v1
kind: License
metadata: {name: office}
spec:
  product: Office 365 Business
  vendor: Microsoft
  seats: 25
  expires: 2027-06-30
  consumedBy: {softwareName: "Microsoft 365*"}
"""


def test_library_kinds_load(tmp_path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "groups/linux.yaml": LINUX_GROUP,
                           "scripts/disk-free.yaml": SCRIPT, "scripts/disk-free.sh": "#!/bin/bash\nexit 0\n",
                           "clients/acme/policy.yaml": POLICY,
                           "clients/acme/rule.yaml": RULE, "clients/acme/license.yaml": LICENSE})
    desired = load_revision(DirectorySource(tmp_path))
    assert sorted(desired.resources) == ["AlertTicketRule", "Client", "DeviceGroup", "License", "Policy",
                                         "Script"]
    (policy,) = desired.of_kind(Policy).values()
    assert [check.name for check in desired.checks_of(policy)] == ["free"]


def test_policy_and_rule_references_are_checked(tmp_path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT,
                           "clients/acme/policy.yaml": POLICY, "clients/acme/rule.yaml": RULE})
    assert [str(p) for p in check_files(DirectorySource(tmp_path))] == [
        "clients/acme/policy.yaml:5:20: no DeviceGroup 'linux-boxes' in clients/acme/ or MSP-wide",
        "clients/acme/policy.yaml:7:28: no Script 'disk-free' in clients/acme/ or MSP-wide",
        "clients/acme/rule.yaml:5:69: no DeviceGroup 'linux-boxes' in clients/acme/ or MSP-wide",
    ]


def test_a_plaintext_in_a_sealed_field_is_never_echoed(tmp_path):
    licence = LICENSE.replace("  seats: 25\n", "  seats: 25\n  key: ABCDE-12345-PLAIN-SECRET\n")
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "clients/acme/license.yaml": licence})
    (problem,) = [str(p) for p in check_files(DirectorySource(tmp_path))]
    assert problem.startswith("clients/acme/license.yaml:8:8: ")
    assert "sealed with 'fleetward seal'" in problem
    assert "PLAIN-SECRET" not in problem
