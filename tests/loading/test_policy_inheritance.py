"""Baselines, client overrides and exclusions: what the loader accepts, merges and rejects (at path:line:col)."""

from __future__ import annotations

import pytest

from controller.loading import DirectorySource, load_revision
from schemas.checks import DiskFreeCheck, FileCheck, ScriptCheck
from schemas.policies import Policy
from tests.loading.conftest import ProblemsOf
from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import write_files

GROUPS = """\
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: all-linux}
spec:
  selector: {matchLabels: {os: linux}}
---
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: kiosks}
spec:
  selector: {matchLabels: {role: kiosk}}
"""

LIBRARY = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: clean-temp}
spec:
  shell: bash
  file: scripts/clean-temp.sh
  os: [linux]
  parameters: [{name: days, type: integer, required: true}]
---
apiVersion: fleetward/v1
kind: PolicyTemplate
metadata: {name: roomy}
spec:
  os: [linux]
  parameters:
    - {name: min_free, type: integer, default: 10, minimum: 1, maximum: 99}
    - {name: days, type: integer, default: 7}
  checks:
    - {name: room, type: diskFree, mount: /, minFreePercent: "{{ params.min_free }}",
       remediation: {script: clean-temp, params: {days: "{{ params.days }}"}}}
"""

BASELINES = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: disk-baseline}
spec:
  targets: {group: all-linux}
  mode: audit
  template: roomy
  params: {min_free: 10}
  exclude: {groups: [kiosks]}
---
apiVersion: fleetward/v1
kind: Policy
metadata: {name: files-baseline}
spec:
  targets: {group: all-linux}
  schedule: {every: 4h}
  checks:
    - {name: motd, type: file, path: /etc/motd}
    - {name: issue, type: file, path: /etc/issue}
"""


def fleet(override: str) -> dict[str, str]:
    return {"groups.yaml": GROUPS, "library/roomy.yaml": LIBRARY, "scripts/clean-temp.sh": "#!/bin/bash\n",
            "baselines.yaml": BASELINES, "clients/acme/override.yaml": override}


def policy(spec: str, name: str = "acme-disk") -> str:
    return f"apiVersion: fleetward/v1\nkind: Policy\nmetadata: {{name: {name}}}\nspec:\n{spec}"


def test_an_override_merges_params_into_the_baselines_template_and_inherits_the_rest(tmp_path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, **fleet(policy(
        "  overrides: disk-baseline\n  mode: enforce\n  params: {min_free: 25}\n"
        "  exclude: {devices: [build-01]}\n"))})
    desired = load_revision(DirectorySource(tmp_path))
    override = desired.of_kind(Policy)[("acme", "acme-disk")]
    (room,) = desired.checks_of(override)
    assert isinstance(room, DiskFreeCheck) and room.min_free_percent == 25
    assert room.remediation is not None and room.remediation.params == {"days": 7}
    (baseline_room,) = desired.checks_of(desired.of_kind(Policy)[(None, "disk-baseline")])
    assert isinstance(baseline_room, DiskFreeCheck) and baseline_room.min_free_percent == 10


def test_an_override_replaces_checks_by_name_and_adds_new_ones(tmp_path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, **fleet(policy(
        "  overrides: files-baseline\n  checks:\n"
        "    - {name: issue, type: file, path: /etc/issue, contains: ACME}\n"
        "    - {name: tidy, script: clean-temp, params: {days: 3}}\n", "acme-files"))})
    desired = load_revision(DirectorySource(tmp_path))
    motd, issue, tidy = desired.checks_of(desired.of_kind(Policy)[("acme", "acme-files")])
    assert isinstance(motd, FileCheck) and motd.path == "/etc/motd"
    assert isinstance(issue, FileCheck) and issue.contains == "ACME"
    assert isinstance(tidy, ScriptCheck) and tidy.params == {"days": 3}


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"clients/acme/override.yaml": policy("  overrides: disk-basline\n")},
                 ["clients/acme/override.yaml:5:14: no Policy 'disk-basline' in MSP-wide resources (did you mean "
                  "'disk-baseline'?); an override names the MSP-wide baseline it changes"], id="unknown-baseline"),
    pytest.param({"more.yaml": policy("  overrides: disk-baseline\n", "msp-override")},
                 ["more.yaml:5:14: an MSP-wide Policy is itself a baseline and overrides nothing; an override "
                  "belongs in a client's folder (clients/<client>/) and changes the baseline for that client's "
                  "devices"], id="msp-wide-override"),
    pytest.param({"clients/acme/again.yaml": policy("  overrides: disk-baseline\n", "acme-disk-2")},
                 ["clients/acme/override.yaml:5:14: Policy 'disk-baseline' is overridden for acme already at "
                  "clients/acme/again.yaml:1:1; write one override per baseline and client"], id="two-overrides"),
    pytest.param({"clients/acme/override.yaml": policy("  overrides: disk-baseline\n  targets: {group: kiosks}\n")},
                 ["clients/acme/override.yaml:5:3: an override applies to its baseline's targets among this "
                  "client's devices; remove 'targets' (take devices out with 'exclude')"], id="targets"),
    pytest.param({"clients/acme/override.yaml": policy("  overrides: disk-baseline\n  template: roomy\n")},
                 ["clients/acme/override.yaml:5:3: an override keeps its baseline's template; remove 'template' "
                  "and change 'params' (or replace checks by name under 'checks')"], id="template"),
    pytest.param({"clients/acme/override.yaml": policy("  overrides: disk-baseline\n  params: {min_free: '25'}\n")},
                 ["clients/acme/override.yaml:6:22: parameter min_free must be an integer, got '25' "
                  "(PolicyTemplate 'roomy')"], id="param-type"),
    pytest.param({"clients/acme/override.yaml": policy("  overrides: disk-baseline\n  params: {min_fre: 25}\n")},
                 ["clients/acme/override.yaml:6:12: PolicyTemplate 'roomy' has no parameter 'min_fre' "
                  "(did you mean 'min_free'?)"], id="param-unknown"),
    pytest.param({"clients/acme/override.yaml": policy("  overrides: files-baseline\n  params: {x: 1}\n")},
                 ["clients/acme/override.yaml:6:11: the baseline 'files-baseline' has inline checks, not a "
                  "template, so it has no params to change; replace a check by writing one of the same name "
                  "under checks"], id="params-of-inline-baseline"),
    pytest.param({"clients/acme/override.yaml": policy(
        "  overrides: files-baseline\n  checks:\n    - {name: motd, type: process, process: motd}\n")},
                 ["clients/acme/override.yaml:7:14: check 'motd' is a file check in the baseline 'files-baseline'; "
                  "an override changes a check's settings and keeps its type (give a process check a new name)"],
                 id="check-type"),
    pytest.param({"clients/acme/override.yaml": policy(
        "  overrides: disk-baseline\n  exclude: {groups: [kiosk]}\n")},
                 ["clients/acme/override.yaml:6:22: no DeviceGroup 'kiosk' in clients/acme/ or MSP-wide "
                  "(did you mean 'kiosks'?)"], id="exclude-unknown-group"),
    pytest.param({"clients/acme/override.yaml": policy(
        "  overrides: disk-baseline\n  exclude: {selector: {}}\n")},
                 ["clients/acme/override.yaml:6:12: an empty selector would exclude every device; name labels "
                  "to match"], id="exclude-everything"),
])
def test_a_wrong_override_is_reported_where_it_is_written(problems_of: ProblemsOf, files, expected):
    base = fleet(policy("  overrides: disk-baseline\n  mode: enforce\n"))
    assert problems_of({**base, **files}) == expected
