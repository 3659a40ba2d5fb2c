"""PolicyTemplates: a Policy's template + params expand into checks; every way to get it wrong is
reported at the node to fix (path:line:col)."""

from __future__ import annotations

import pytest

from controller.loading import DirectorySource, check_files, load_revision
from controller.loading.rendering import RenderError, render
from schemas.checks import DiskFreeCheck, LocalAdminsCheck, OsUpdateAgeCheck
from schemas.policies import Policy
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP
from tests.support.gitrepos import write_files

TEMPLATE = """\
apiVersion: fleetward/v1
kind: PolicyTemplate
metadata: {name: patched}
spec:
  os: [linux]
  parameters:
    - {name: max_days, type: integer, default: 30, minimum: 1}
    - {name: admins, type: list, default: [root]}
    - {name: mount, type: string}
    - {name: min_free, type: number, required: true}
  checks:
    - name: updates
      type: osUpdateAge
      maxDays: "{{ params.max_days }}"
      description: "no update older than {{ params.max_days }} days"
    - {name: admins, type: localAdmins, allowed: "{{ params.admins }}"}
    - {name: room, type: diskFree, mount: "{{ params.mount }}", minFreePercent: "{{ params.min_free }}"}
"""

POLICY = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: baseline}
spec:
  targets: {group: linux-boxes}
  template: patched
  params:
    min_free: 12.5
"""

SCRIPTS = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: clean-temp}
spec:
  shell: bash
  file: scripts/clean-temp.sh
  os: [linux]
  parameters: [{name: days, type: integer, required: true}]
"""


def fleet(tmp_path, **files: str):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "groups/linux.yaml": LINUX_GROUP,
                           "templates/patched.yaml": TEMPLATE, "clients/acme/policy.yaml": POLICY,
                           "scripts/clean-temp.yaml": SCRIPTS, "scripts/clean-temp.sh": "#!/bin/bash\n",
                           **files})
    return DirectorySource(tmp_path)


def problems(tmp_path, **files: str) -> list[str]:
    return [str(p) for p in check_files(fleet(tmp_path, **files))]


def test_a_policy_template_expands_with_native_types_and_defaults(tmp_path):
    desired = load_revision(fleet(tmp_path))
    (policy,) = desired.of_kind(Policy).values()
    updates, admins, room = desired.checks_of(policy)
    assert isinstance(updates, OsUpdateAgeCheck) and updates.max_days == 30
    assert updates.description == "no update older than 30 days"
    assert isinstance(admins, LocalAdminsCheck) and admins.allowed == ["root"]
    assert isinstance(room, DiskFreeCheck) and room.mount is None and room.min_free_percent == 12.5


def test_given_params_override_defaults(tmp_path):
    policy = POLICY + "    max_days: 7\n    admins: [root, itadmin]\n    mount: /var\n"
    desired = load_revision(fleet(tmp_path, **{"clients/acme/policy.yaml": policy}))
    (loaded,) = desired.of_kind(Policy).values()
    updates, admins, room = desired.checks_of(loaded)
    assert (updates.max_days, admins.allowed, room.mount) == (7, ["root", "itadmin"], "/var")


def test_the_clients_own_template_comes_before_the_msp_wide_one(tmp_path):
    own = TEMPLATE.replace("maxDays: \"{{ params.max_days }}\"", "maxDays: 3")
    desired = load_revision(fleet(tmp_path, **{"clients/acme/patched.yaml": own}))
    (loaded,) = desired.of_kind(Policy).values()
    assert desired.checks_of(loaded)[0].max_days == 3


def test_an_unknown_template_is_reported_at_the_template_line(tmp_path):
    policy = POLICY.replace("template: patched", "template: patchd")
    assert problems(tmp_path, **{"clients/acme/policy.yaml": policy}) == [
        "clients/acme/policy.yaml:6:13: no PolicyTemplate 'patchd' in clients/acme/ or MSP-wide "
        "(did you mean 'patched'?)"]


def test_another_clients_template_is_not_visible(tmp_path):
    other = ACME_CLIENT.replace("acme", "globex")
    assert problems(tmp_path, **{"templates/patched.yaml": "", "clients/globex/client.yaml": other,
                                 "clients/globex/patched.yaml": TEMPLATE}) == [
        "clients/acme/policy.yaml:6:13: no PolicyTemplate 'patched' in clients/acme/ or MSP-wide"]


@pytest.mark.parametrize(("params", "expected"), [
    pytest.param("    min_free: '12'\n", "8:15: parameter min_free must be a number, got '12' "
                 "(PolicyTemplate 'patched')", id="wrong-type"),
    pytest.param("    min_free: 12\n    max_days: true\n", "9:15: parameter max_days must be an integer, got "
                 "true (PolicyTemplate 'patched')", id="boolean-for-integer"),
    pytest.param("    min_free: 12\n    max_days: 0\n", "9:15: parameter max_days must be at least 1, got 0 "
                 "(PolicyTemplate 'patched')", id="below-minimum"),
    pytest.param("    min_free: 12\n    max_dayz: 3\n", "9:5: PolicyTemplate 'patched' has no parameter "
                 "'max_dayz' (did you mean 'max_days'?)", id="unknown"),
    pytest.param("    min_free: 12\n    admins: [root, 3]\n", "9:13: parameter admins must be a list of "
                 "strings, got a list (PolicyTemplate 'patched')", id="list-of-non-strings"),
    pytest.param("    max_days: 3\n", "8:5: PolicyTemplate 'patched' needs the parameter min_free; add them "
                 "under params", id="missing"),
])
def test_bad_params_are_reported_at_the_params_entry(tmp_path, params, expected):
    policy = POLICY.replace("    min_free: 12.5\n", params)
    assert problems(tmp_path, **{"clients/acme/policy.yaml": policy}) == [f"clients/acme/policy.yaml:{expected}"]


def test_missing_params_without_a_params_key_point_at_the_template(tmp_path):
    policy = POLICY.replace("  params:\n    min_free: 12.5\n", "")
    assert problems(tmp_path, **{"clients/acme/policy.yaml": policy}) == [
        "clients/acme/policy.yaml:6:3: PolicyTemplate 'patched' needs the parameter min_free; add them "
        "under params"]


def test_a_param_that_renders_an_invalid_check_names_the_template_and_the_policy(tmp_path):
    policy = POLICY + "    max_days: 5000\n"
    (problem,) = problems(tmp_path, **{"clients/acme/policy.yaml": policy})
    assert problem.startswith("clients/acme/policy.yaml:9:15: template 'patched' rendered for Policy 'baseline' "
                              "gives an invalid check: checks[0].maxDays: "), problem
    assert "less than or equal to 3650" in problem
    assert problem.endswith("(template at templates/patched.yaml:14:16)")


def test_a_render_error_names_the_template_file_and_line(tmp_path):
    template = TEMPLATE.replace('"{{ params.max_days }}"', '"{{ params.max_days // params.min_free|int }}"')
    (problem,) = problems(tmp_path, **{"templates/patched.yaml": template,
                                       "clients/acme/policy.yaml": POLICY.replace("12.5", "0.5")})
    assert problem.startswith("clients/acme/policy.yaml:6:13: template 'patched' rendered for Policy "
                              "'baseline': cannot render: "), problem
    assert problem.endswith("(at templates/patched.yaml:14:16)")


@pytest.mark.parametrize(("value", "says"), [
    pytest.param("{{ params.max_days ", "template syntax error", id="syntax"),
    pytest.param("{% for i in range(9) %}{{ i }}{% endfor %}", "statements", id="statement"),
    pytest.param("{{ params.max_days.__class__ }}", "only params.<name> may be read", id="attribute"),
    pytest.param("{{ lipsum() }}", "calling functions or methods is not allowed", id="call"),
    pytest.param("{{ cycler }}", "'cycler' is not defined here", id="global"),
    pytest.param("{{ params.max_days | attr('x') }}", "the filter 'attr' is not allowed", id="filter"),
    pytest.param("{{ params.max_dayz }}", "params.max_dayz is not a parameter of this template", id="undeclared"),
])
def test_a_broken_template_is_reported_once_at_its_own_line(tmp_path, value, says):
    template = TEMPLATE.replace('"{{ params.max_days }}"', f'"{value}"')
    found = problems(tmp_path, **{"templates/patched.yaml": template})
    assert len(found) == 1, found
    assert found[0].startswith("templates/patched.yaml:14:16: "), found
    assert says in found[0], found


def test_a_template_with_defaults_only_is_validated_on_its_own(tmp_path):
    template = TEMPLATE.replace("    - {name: min_free, type: number, required: true}\n",
                                "    - {name: min_free, type: number, default: 0}\n")
    found = problems(tmp_path, **{"templates/patched.yaml": template})
    assert len(found) == 1 and found[0].startswith("templates/patched.yaml:17:81: with the default parameters: "
                                                   "checks[2].minFreePercent: "), found


def test_a_default_of_the_wrong_type_is_refused(tmp_path):
    template = TEMPLATE.replace("default: 30,", "default: '30',")
    (problem,) = problems(tmp_path, **{"templates/patched.yaml": template})
    assert problem.startswith("templates/patched.yaml:7:7: ") and "max_days must be an integer" in problem


def test_scripts_named_by_rendered_checks_are_resolved_and_their_params_checked(tmp_path):
    template = TEMPLATE + "    - {name: tidy, script: \"{{ params.script }}\", params: {days: 3}}\n"
    template = template.replace("  parameters:\n", "  parameters:\n    - {name: script, type: string, "
                                                   "default: clean-temp}\n")
    assert problems(tmp_path, **{"templates/patched.yaml": template}) == []
    assert problems(tmp_path, **{"templates/patched.yaml": template.replace("days: 3", "dayz: 3")}) == [
        "clients/acme/policy.yaml:6:13: check 'tidy' of template 'patched': Script 'clean-temp' has no "
        "parameter 'dayz' (did you mean 'days'?)",
        "clients/acme/policy.yaml:6:13: check 'tidy' of template 'patched': Script 'clean-temp' needs the "
        "parameter days; add them under params"]
    policy = POLICY + "    script: clean-tmp\n"
    assert problems(tmp_path, **{"templates/patched.yaml": template, "clients/acme/policy.yaml": policy}) == [
        "clients/acme/policy.yaml:6:13: check 'tidy' of template 'patched': no Script 'clean-tmp' in "
        "clients/acme/ or MSP-wide (did you mean 'clean-temp'?)"]


@pytest.mark.parametrize(("value", "says"), [
    pytest.param("{{ 'x' * 100000 }}", "repeating a string", id="repeat"),
    pytest.param("{{ params.n * params.n * params.n * params.n * params.n }}", "grow too large", id="bignum"),
    pytest.param("{{ '%999999s' % 1 }}", "'%' formatting", id="format"),
    pytest.param("{{ params.s ~ params.s ~ params.s ~ params.s ~ params.s }}", "more than 16384", id="long"),
])
def test_the_sandbox_caps_what_an_expression_can_build(value, says):
    with pytest.raises(RenderError) as caught:
        render([{"v": value}], {"n": 2 ** 100, "s": "x" * 4000})
    assert caught.value.loc == (0, "v") and says in caught.value.message
