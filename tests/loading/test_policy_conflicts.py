"""Two policies setting one thing differently on devices both may reach: rejected, naming both places."""

from __future__ import annotations

import pytest

from tests.loading.conftest import ProblemsOf
from tests.support.fleets import ACME_CLIENT

GLOBEX_CLIENT = ACME_CLIENT.replace("acme", "globex").replace("ACME Corp", "Globex")

GROUPS = """\
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: all-linux}
spec:
  selector: {matchLabels: {os: linux}}
---
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: all-windows}
spec:
  selector: {matchExpressions: [{key: os, operator: In, values: [windows]}]}
---
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: kiosks}
spec:
  selector: {matchLabels: {os: linux, role: kiosk}}
"""

BASELINE = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: ssh-baseline}
spec:
  targets: {group: all-linux}
  exclude: {groups: [kiosks]}
  checks:
    - {name: motd, type: file, path: /etc/motd}
    - {name: sshd, type: service, service: sshd, state: running, startMode: automatic}
"""


def policy(name: str, targets: str, checks: str, extra: str = "") -> str:
    return (f"apiVersion: fleetward/v1\nkind: Policy\nmetadata: {{name: {name}}}\nspec:\n"
            f"  targets: {targets}\n{extra}  checks:\n{checks}")


SSHD_OFF = "    - {name: no-ssh, type: service, service: SSHD, state: stopped}\n"
CUPS_OFF = "    - {name: cups, type: service, service: cups, state: stopped}\n"
CUPS_ON = "    - {name: cups, type: service, service: cups}\n"
BOTH_SAY = ("both set service sshd, differently (state stopped here, running there), and both may apply to the "
            "same devices; keep one, or take the devices out of one with spec.exclude")


def problems(problems_of: ProblemsOf, files: dict[str, str]) -> list[str]:
    return problems_of({"clients/globex/client.yaml": GLOBEX_CLIENT, "groups.yaml": GROUPS,
                        "baseline.yaml": BASELINE, **files})


def test_a_client_policy_contradicting_a_baseline_is_rejected_with_both_locations(problems_of):
    found = problems(problems_of, {"clients/acme/ssh.yaml": policy("no-ssh", "{group: all-linux}", SSHD_OFF)})
    assert found == ["clients/acme/ssh.yaml:7:7: check 'no-ssh' of Policy 'acme.no-ssh' and check 'sshd' of Policy "
                     f"'ssh-baseline' at baseline.yaml:9:7 {BOTH_SAY}"]


@pytest.mark.parametrize("files", [
    pytest.param({"clients/acme/ssh.yaml": policy("no-ssh", "{group: all-windows}", SSHD_OFF)}, id="other-os"),
    pytest.param({"clients/acme/ssh.yaml": policy("no-ssh", "{group: kiosks}", SSHD_OFF)}, id="excluded-group"),
    pytest.param({"clients/acme/ssh.yaml": policy(
        "no-ssh", "{group: all-linux}", SSHD_OFF, "  exclude: {selector: {matchLabels: {os: linux}}}\n")},
        id="excluded-by-selector"),
    pytest.param({"clients/acme/cups.yaml": policy("cups", "{group: all-linux}", CUPS_OFF),
                  "clients/globex/cups.yaml": policy("cups", "{group: all-linux}", CUPS_ON)}, id="another-client"),
    pytest.param({"a.yaml": policy("one", "{devices: [pc-1]}", CUPS_OFF),
                  "b.yaml": policy("two", "{devices: [pc-2]}", CUPS_ON)}, id="other-devices"),
    pytest.param({"clients/acme/ssh.yaml": policy(
        "lock", "{group: all-linux}", "    - {name: sshd, type: service, service: sshd, state: running}\n"
                                      "    - {name: motd, type: file, path: /etc/motd, contains: ACME}\n")},
        id="same-values"),
    pytest.param({"clients/acme/ssh.yaml": "apiVersion: fleetward/v1\nkind: Policy\nmetadata: {name: ssh}\nspec:\n"
                  "  overrides: ssh-baseline\n  checks:\n"
                  "    - {name: sshd, type: service, service: sshd, state: stopped}\n"}, id="override-changes-it"),
])
def test_policies_that_cannot_meet_or_agree_are_no_conflict(problems_of, files):
    assert problems(problems_of, files) == []


def test_an_override_is_compared_as_its_client_receives_the_baseline(problems_of):
    override = ("apiVersion: fleetward/v1\nkind: Policy\nmetadata: {name: ssh}\nspec:\n  overrides: ssh-baseline\n"
                "  checks:\n    - {name: motd, type: file, path: /etc/motd, exists: false}\n")
    # The override took motd out for acme; acme's own policy wanting it back conflicts with the override.
    mine = policy("motd", "{group: all-linux}", "    - {name: motd-back, type: file, path: /etc/motd, owner: root}\n")
    found = problems(problems_of, {"clients/acme/ssh.yaml": override, "clients/acme/motd.yaml": mine})
    assert found == ["clients/acme/ssh.yaml:7:7: check 'motd' of Policy 'ssh-baseline' and check 'motd-back' of "
                     "Policy 'acme.motd' at clients/acme/motd.yaml:7:7 both set file /etc/motd, differently (exists "
                     "false here, true there), and both may apply to the same devices; keep one, or take the "
                     "devices out of one with spec.exclude"]


def test_registry_values_compare_without_case_and_devices_by_name(problems_of):
    one = policy("smb-on", "{devices: [pc-1, pc-2]}",
                 "    - {name: smb, type: registry, key: 'HKLM\\System\\Smb', value: Enabled, equals: 1}\n")
    two = policy("smb-off", "{devices: [pc-2]}",
                 "    - {name: smb, type: registry, key: 'HKLM\\system\\SMB', value: enabled, equals: 0}\n")
    (found,) = problems(problems_of, {"a.yaml": one, "b.yaml": two})
    assert found.startswith("b.yaml:7:7: check 'smb' of Policy 'smb-off' and check 'smb' of Policy 'smb-on' at "
                            "a.yaml:7:7 both set registry hklm\\system\\smb enabled, differently (equals 0 here, "
                            "1 there)"), found


FIREWALL_TEMPLATE = """\
apiVersion: fleetward/v1
kind: PolicyTemplate
metadata: {name: firewall}
spec:
  os: [linux]
  parameters: [{name: "on", type: boolean, default: true}]
  checks:
    - {name: fw, type: firewall, enabled: "{{ params.on }}"}
---
apiVersion: fleetward/v1
kind: Policy
metadata: {name: firewall-baseline}
spec:
  targets: {group: all-linux}
  template: firewall
"""

FIREWALL_OVERRIDE = ("apiVersion: fleetward/v1\nkind: Policy\nmetadata: {name: fw}\nspec:\n"
                     "  overrides: firewall-baseline\n  params: {'on': false}\n")


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"clients/acme/fw.yaml": policy("fw-off", "{group: all-linux}",
                                                 "    - {name: off, type: firewall, enabled: false}\n")},
                 ["clients/acme/fw.yaml:7:7: check 'off' of Policy 'acme.fw-off' and check 'fw' of Policy "
                  "'firewall-baseline' at firewall.yaml:15:13 both set firewall, differently (enabled false here, "
                  "true there)"], id="at-the-baselines-template"),
    pytest.param({"clients/acme/fw.yaml": FIREWALL_OVERRIDE,
                  "clients/acme/off.yaml": policy("fw-off", "{group: all-linux}",
                                                  "    - {name: off, type: firewall, enabled: false}\n")},
                 [], id="agrees-with-the-override"),
    pytest.param({"clients/acme/fw.yaml": FIREWALL_OVERRIDE,
                  "clients/acme/on.yaml": policy("fw-on", "{group: all-linux}", "    - {name: on, type: firewall}\n")},
                 ["clients/acme/on.yaml:7:7: check 'on' of Policy 'acme.fw-on' and check 'fw' of Policy "
                  "'firewall-baseline' at clients/acme/fw.yaml:6:11 both set firewall, differently (enabled true here, "
                  "false there)"], id="at-the-overrides-params"),
])
def test_rendered_checks_conflict_where_their_values_were_given(problems_of, files, expected):
    found = problems(problems_of, {"firewall.yaml": FIREWALL_TEMPLATE, **files})
    assert [problem.split(", and both may apply")[0] for problem in found] == expected
