"""What an agent receives for a Policy: template checks as the loader expanded them, script texts as it read them."""

from __future__ import annotations

import hashlib

from controller.loading import DirectorySource, load_revision
from controller.planning.inheriting import effective_policies
from controller.policies.bundling import PolicyBundles, policy_entry
from schemas.checks import DiskFreeCheck, ScriptCheck
from schemas.policies import Triggers
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


GLOBEX_CLIENT = """\
apiVersion: fleetward/v1
kind: Client
metadata: {name: globex}
spec: {displayName: Globex, timezone: America/New_York}
"""


def timed_policy(name: str, schedule: str, triggers: str = "") -> str:
    return (f"apiVersion: fleetward/v1\nkind: Policy\nmetadata: {{name: {name}}}\nspec:\n"
            f"  targets: {{group: linux-boxes}}\n  schedule: {schedule}\n{triggers}"
            "  checks: [{name: motd, type: file, path: /etc/motd}]\n")


def test_schedule_zone_and_triggers_reach_the_bundle_in_the_agents_client_zone(tmp_path):
    write_files(tmp_path, {
        "clients/acme/client.yaml": ACME_CLIENT, "clients/globex/client.yaml": GLOBEX_CLIENT,
        "groups/linux.yaml": LINUX_GROUP,
        "clients/acme/local.yaml": timed_policy("local", "{cron: '0 7 * * *'}",
                                                "  triggers: {agentStart: false, alertTypes: [agent.disk]}\n"),
        "baseline.yaml": timed_policy("baseline", "{cron: '0 3 * * 1-5'}"),
        "tokyo.yaml": timed_policy("tokyo", "{cron: '0 3 * * *', timezone: Asia/Tokyo}"),
        "hourly.yaml": timed_policy("hourly", "{every: 30m}"),
    })
    desired = load_revision(DirectorySource(tmp_path))
    bundles = PolicyBundles()
    linux = {"os": "linux", "hostname": "box"}
    acme = {p.id: p for p in bundles.bundle(desired, "a_1", "acme", linux).policies}
    globex = {p.id: p for p in bundles.bundle(desired, "a_2", "globex", linux).policies}

    local = acme["acme.local"]
    assert (local.cron, local.timezone, local.every_seconds) == ("0 7 * * *", "Europe/Berlin", None)
    assert not local.triggers.agent_start and local.triggers.alert_types == ["agent.disk"]
    # An MSP-wide cron without a zone is read in each agent's client's zone; the policy version is one.
    assert (acme["baseline"].timezone, globex["baseline"].timezone) == ("Europe/Berlin", "America/New_York")
    assert acme["baseline"].version == globex["baseline"].version
    assert (acme["tokyo"].timezone, globex["tokyo"].timezone) == ("Asia/Tokyo", "Asia/Tokyo")
    assert (acme["hourly"].every_seconds, acme["hourly"].cron, acme["hourly"].timezone) == (1800, None, None)
    assert acme["hourly"].triggers == Triggers()
    assert "globex.local" not in globex


def test_a_clients_new_zone_changes_its_agents_bundle_version(tmp_path):
    files = {"clients/acme/client.yaml": ACME_CLIENT, "groups/linux.yaml": LINUX_GROUP,
             "baseline.yaml": timed_policy("baseline", "{cron: '0 3 * * *'}")}
    write_files(tmp_path / "a", files)
    write_files(tmp_path / "b", {**files, "clients/acme/client.yaml": ACME_CLIENT.replace("Europe/Berlin", "UTC")})
    linux = {"os": "linux", "hostname": "box"}
    versions = [PolicyBundles().version(load_revision(DirectorySource(root)), "a_1", "acme", linux)
                for root in (tmp_path / "a", tmp_path / "b")]
    assert versions[0] and versions[1] and versions[0] != versions[1]
