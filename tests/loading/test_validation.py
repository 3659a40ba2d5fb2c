"""Every kind of problem, reported as path:line:col: message at the offending node."""

from __future__ import annotations

import time

import pytest

from controller.errors import RevisionInvalid
from controller.loading import DirectorySource, check_files, load_revision
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP, deployment_yaml, minimal_fleet, package_yaml
from tests.support.gitrepos import write_files


def problems_of(tmp_path, files):
    write_files(tmp_path, files)
    return [str(p) for p in check_files(DirectorySource(tmp_path))]


def test_the_design_example_loads_into_the_expected_desired_state(tmp_path):
    write_files(tmp_path, minimal_fleet())
    desired = load_revision(DirectorySource(tmp_path))
    assert desired.client_names() == ["acme"]
    (deployment,) = desired.deployments.values()
    assert (deployment.scope, deployment.name, deployment.ref) == ("acme", "hello-on-linux",
                                                                   "acme.hello-on-linux")
    assert str(deployment.location) == "clients/acme/hello.yaml:18:1"
    package = desired.resolve(type(next(iter(desired.packages.values())).resource), "acme", "hello-tool")
    assert package is not None and package.resource.spec.version == "1.0.0"
    assert desired.fleet.status_branch == "fleetward/status"


CASES = {
    "unknown-field-with-suggestion": (
        {"clients/acme/p.yaml": package_yaml().replace("  version:", "  verison: x\n  version:")},
        ["clients/acme/p.yaml:5:3: unknown field 'verison' (did you mean 'version'?)"],
    ),
    "number-instead-of-string": (
        {"clients/acme/p.yaml": package_yaml().replace('"1.0.0"', "1.0")},
        ['clients/acme/p.yaml:5:12: expected a string, got the number 1.0: quote it ("1.0")'],
    ),
    "missing-field-points-at-parent": (
        {"clients/acme/p.yaml": package_yaml().replace('  version: "1.0.0"\n', "")},
        ["clients/acme/p.yaml:5:3: missing required field 'version'"],
    ),
    "nested-field-in-list": (
        {"clients/acme/p.yaml": package_yaml(sha256="abc")},
        ["clients/acme/p.yaml:10:15: 'sha256' must be 64 lower-case hex digits (the output of "
         "sha256sum), got 'abc'"],
    ),
    "bad-name": (
        {"clients/acme/p.yaml": package_yaml(name="Hello_Tool")},
        ["clients/acme/p.yaml:3:18: 'name' must be lower-case letters, digits and '-', 1-63 "
         "characters, starting and ending with a letter or digit, got 'Hello_Tool'"],
    ),
    "unknown-kind": (
        {"packages/x.yaml": "apiVersion: fleetward/v1\nkind: Pakage\nmetadata: {name: x}\n"},
        ["packages/x.yaml:2:7: unknown kind 'Pakage'; did you mean 'Package'? known kinds: Client, "
         "Deployment, DeviceGroup, Fleet, Package"],
    ),
    "wrong-api-version": (
        {"packages/x.yaml": package_yaml().replace("fleetward/v1", "fleetward/v2")},
        ["packages/x.yaml:1:13: apiVersion must be fleetward/v1, got 'fleetward/v2'"],
    ),
    "not-a-mapping": (
        {"packages/x.yaml": "- a\n- b\n"},
        ["packages/x.yaml:1:1: document 1 is a list; each document must be a mapping with apiVersion, "
         "kind, metadata and spec"],
    ),
    "yaml-syntax": (
        {"packages/x.yaml": "apiVersion: fleetward/v1\nkind: [Package\n"},
        ["packages/x.yaml:3:1: YAML syntax error: while parsing a flow sequence expected ',' or ']', "
         "but got '<stream end>'"],
    ),
    "duplicate-key": (
        {"packages/x.yaml": package_yaml() + "kind: Package\n"},
        ['packages/x.yaml:11:1: YAML syntax error: while constructing a mapping found duplicate key '
         '"kind" with value "Package" (original value: "Package")'],
    ),
    "not-utf8": (
        {"packages/x.yaml": b"apiVersion: fleetward/v1\nkind: Pack\xe4ge\n"},
        ["packages/x.yaml:2:11: not valid UTF-8 (byte 0xe4); save the file as UTF-8"],
    ),
    "duplicate-name-in-scope": (
        {"clients/acme/a.yaml": package_yaml(), "clients/acme/b.yaml": package_yaml()},
        ["clients/acme/b.yaml:3:18: duplicate Package 'hello-tool' in clients/acme/; the first is at "
         "clients/acme/a.yaml:1:1"],
    ),
    "dangling-package-and-group": (
        {"clients/acme/d.yaml": deployment_yaml(package="nope", group="ghosts")},
        ["clients/acme/d.yaml:5:12: no Package 'nope' in clients/acme/ or MSP-wide",
         "clients/acme/d.yaml:7:20: no DeviceGroup 'ghosts' in clients/acme/ or MSP-wide"],
    ),
    "no-reference-to-another-clients-resources": (
        {"clients/globex/client.yaml": ACME_CLIENT.replace("acme", "globex"),
         "clients/globex/p.yaml": package_yaml(name="globex-tool"),
         "clients/acme/d.yaml": deployment_yaml(package="globex-tool", group="linux-boxes"),
         "groups/linux.yaml": LINUX_GROUP},
        ["clients/acme/d.yaml:5:12: no Package 'globex-tool' in clients/acme/ or MSP-wide"],
    ),
    "group-reaching-another-client": (
        {"clients/acme/g.yaml": LINUX_GROUP.replace("{os: linux}", "{os: linux, client: globex}")},
        ["clients/acme/g.yaml:5:47: a resource under clients/acme/ cannot act on another client's "
         "devices (this selector pins client to globex)"],
    ),
    "client-folder-without-client": (
        {"clients/initech/p.yaml": package_yaml(name="tps")},
        ["clients/initech/p.yaml:1:1: clients/initech/ has no Client resource; add "
         "clients/initech/client.yaml (kind: Client, metadata.name: initech)"],
    ),
    "client-name-must-match-folder": (
        {"clients/acme/client.yaml": ACME_CLIENT.replace("{name: acme}", "{name: acme2}"),
         "clients/acme2/client.yaml": ACME_CLIENT.replace("{name: acme}", "{name: acme2}")},
        ["clients/acme/client.yaml:1:1: clients/acme/ has no Client resource; add "
         "clients/acme/client.yaml (kind: Client, metadata.name: acme)",
         "clients/acme/client.yaml:3:18: this Client is named 'acme2' but lives in clients/acme/; the "
         "name must match the folder"],
    ),
    "file-directly-in-clients": (
        {"clients/x.yaml": package_yaml()},
        ["clients/x.yaml:1:1: clients/x.yaml is directly in clients/; put it in a client's folder "
         "(clients/<client>/x.yaml)"],
    ),
    "fleet-outside-root": (
        {"settings/fleet.yaml": "apiVersion: fleetward/v1\nkind: Fleet\nmetadata: {name: m}\n"},
        ["settings/fleet.yaml:2:7: a Fleet belongs in fleet.yaml at the root of the fleet; move it there"],
    ),
    "client-package-shadows-msp-package": (
        {"packages/hello.yaml": package_yaml(), "clients/acme/hello.yaml": package_yaml()},
        ["clients/acme/hello.yaml:3:18: Package 'hello-tool' is also defined MSP-wide at "
         "packages/hello.yaml:1:1; a device could not tell them apart: rename this one"],
    ),
    "unknown-timezone": (
        {"clients/acme/client.yaml": ACME_CLIENT.replace("Europe/Berlin", "Mars/Olympus")},
        ["clients/acme/client.yaml:4:42: unknown time zone 'Mars/Olympus'; use an IANA name such as "
         "'Europe/Berlin' or 'UTC'"],
    ),
}


@pytest.mark.parametrize(("files", "expected"), list(CASES.values()), ids=list(CASES))
def test_problem_is_reported_at_the_offending_node(tmp_path, files, expected):
    base = {"clients/acme/client.yaml": ACME_CLIENT}
    assert problems_of(tmp_path, {**base, **files}) == expected


def test_all_problems_come_back_at_once_in_a_stable_order(tmp_path):
    files = {
        "clients/acme/client.yaml": ACME_CLIENT,
        "clients/acme/z.yaml": package_yaml(sha256="abc").replace('"1.0.0"', "1.0"),
        "clients/acme/a.yaml": deployment_yaml(package="nope"),
        "packages/x.yaml": b"\xff",
    }
    first = problems_of(tmp_path, files)
    assert len(first) == 5
    assert [p.split(":")[0] for p in first] == sorted(p.split(":")[0] for p in first)
    z_lines = [int(p.split(":")[1]) for p in first if p.startswith("clients/acme/z.yaml")]
    assert z_lines == sorted(z_lines) == [5, 10]
    assert problems_of(tmp_path, files) == first


def test_invalid_revision_raises_with_every_problem(tmp_path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT,
                           "clients/acme/d.yaml": deployment_yaml(package="nope", group="ghosts")})
    with pytest.raises(RevisionInvalid) as raised:
        load_revision(DirectorySource(tmp_path))
    assert len(raised.value.problems) == 2
    assert raised.value.revision == "working-tree"


def test_alias_bomb_is_rejected_quickly(tmp_path):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join(f"*a{level - 1}" for _ in range(10))
        lines.append(f"a{level}: &a{level} [{refs}]")
    started = time.perf_counter()
    problems = problems_of(tmp_path, {"packages/bomb.yaml": "\n".join(lines) + "\n"})
    assert time.perf_counter() - started < 5  # generous on a loaded CI machine; typically ~0.1 s
    assert problems == ["packages/bomb.yaml:1:1: document 1 expands to more than 100000 nodes once "
                        "aliases are followed; use fewer anchors and aliases"]


def test_modest_aliases_are_fine(tmp_path):
    text = package_yaml().replace("  installers:\n", "  installers: &inst\n")
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "clients/acme/p.yaml": text})
    assert load_revision(DirectorySource(tmp_path)).packages


def test_self_referencing_alias_is_a_problem_not_a_crash(tmp_path):
    # ruamel.yaml resolves an alias inside its own anchor to null; the document is then simply
    # not a resource.
    problems = problems_of(tmp_path, {"packages/loop.yaml": "a: &a [*a]\n"})
    assert problems[0] == ("packages/loop.yaml:1:1: missing 'apiVersion'; every document starts with "
                           "apiVersion: fleetward/v1")
