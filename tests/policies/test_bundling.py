"""What an agent receives for a Policy: template checks as the loader expanded them, script texts as it read them."""

from __future__ import annotations

import hashlib

from controller.loading import DirectorySource, load_revision
from controller.planning.inheriting import effective_policies
from controller.policies.bundling import policy_entry
from schemas.checks import DiskFreeCheck, ScriptCheck
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP
from tests.support.gitrepos import write_files

TEMPLATE = """\
apiVersion: fleetward/v1
kind: PolicyTemplate
metadata: {name: roomy}
spec:
  os: [linux]
  parameters:
    - {name: min_free, type: number, default: 10}
  checks:
    - {name: room, type: diskFree, mount: /, minFreePercent: "{{ params.min_free }}",
       remediation: {script: clean-temp, params: {days: 7}}}
    - {name: tidy, script: clean-temp, params: {days: 30}}
"""

POLICY = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: baseline}
spec:
  targets: {group: linux-boxes}
  mode: enforce
  template: roomy
  params: {min_free: 15}
"""

SCRIPT = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: clean-temp}
spec:
  shell: bash
  file: scripts/clean-temp.sh
  os: [linux]
  parameters: [{name: days, type: integer, required: true}]
"""

SCRIPT_TEXT = '#!/bin/bash\nset -euo pipefail\nfind "${PARAM_root:-/}tmp" -mtime "+$PARAM_days" -delete\n'


def test_a_template_policy_is_bundled_with_its_expanded_checks_and_the_script_text_of_its_revision(tmp_path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "groups/linux.yaml": LINUX_GROUP,
                           "templates/roomy.yaml": TEMPLATE, "clients/acme/policy.yaml": POLICY,
                           "scripts/clean-temp.yaml": SCRIPT, "scripts/clean-temp.sh": SCRIPT_TEXT})
    desired = load_revision(DirectorySource(tmp_path))
    (policy,) = effective_policies(desired)

    entry = policy_entry(desired, policy)

    room, tidy = entry.policy.checks
    assert isinstance(room, DiskFreeCheck) and room.min_free_percent == 15
    assert isinstance(tidy, ScriptCheck) and tidy.params == {"days": 30}
    (script,) = entry.scripts
    assert (script.name, script.text) == ("clean-temp", SCRIPT_TEXT)
    assert script.sha256 == hashlib.sha256(SCRIPT_TEXT.encode()).hexdigest()
    assert entry.policy.scripts == {"clean-temp": script.ref}


def test_the_version_follows_the_script_text(tmp_path):
    files = {"clients/acme/client.yaml": ACME_CLIENT, "groups/linux.yaml": LINUX_GROUP,
             "templates/roomy.yaml": TEMPLATE, "clients/acme/policy.yaml": POLICY,
             "scripts/clean-temp.yaml": SCRIPT, "scripts/clean-temp.sh": SCRIPT_TEXT}
    write_files(tmp_path / "a", files)
    write_files(tmp_path / "b", {**files, "scripts/clean-temp.sh": SCRIPT_TEXT + "echo cleaned\n"})
    versions = []
    for root in (tmp_path / "a", tmp_path / "b"):
        desired = load_revision(DirectorySource(root))
        (policy,) = effective_policies(desired)
        versions.append(policy_entry(desired, policy).policy.version)
    assert versions[0] != versions[1]
