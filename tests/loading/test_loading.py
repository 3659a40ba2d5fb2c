"""A whole revision: the DESIGN.md example loads, and a broken one fails with every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import RevisionInvalid
from controller.loading import DirectorySource, GitTreeSource, check_files, load_revision
from schemas.deployments import Deployment
from schemas.fleet import FleetSpec
from schemas.packages import Package
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP, deployment_yaml, minimal_fleet, package_yaml
from tests.support.gitrepos import commit, init_repo, write_files


def test_the_design_example_loads_into_the_expected_desired_state(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, minimal_fleet())
    desired = load_revision(GitTreeSource(repo, "main"))
    assert (desired.revision, desired.fleet) == (sha, FleetSpec())
    assert {kind: {key: str(loaded.location) for key, loaded in table.items()}
            for kind, table in desired.resources.items()} == {
        "Client": {("acme", "acme"): "clients/acme/client.yaml:1:1"},
        "Package": {("acme", "hello-tool"): "clients/acme/hello.yaml:1:1"},
        "DeviceGroup": {("acme", "linux-boxes"): "clients/acme/hello.yaml:12:1"},
        "Deployment": {("acme", "hello-on-linux"): "clients/acme/hello.yaml:18:1"},
    }
    assert desired.packages[("acme", "hello-tool")].resource == Package.model_validate({
        "apiVersion": "fleetward/v1", "kind": "Package", "metadata": {"name": "hello-tool"},
        "spec": {"version": "1.0.0", "installers": [{
            "os": "linux", "type": "archive", "url": "file:///srv/artifacts/hello-tool-1.0.0.tar.gz",
            "sha256": "0" * 64}]}})
    assert desired.deployments[("acme", "hello-on-linux")].resource == Deployment.model_validate({
        "apiVersion": "fleetward/v1", "kind": "Deployment", "metadata": {"name": "hello-on-linux"},
        "spec": {"package": "hello-tool", "ensure": "present", "targets": {"group": "linux-boxes"}}})
    assert desired.resolve(Package, "acme", "hello-tool") is desired.packages[("acme", "hello-tool")]


def test_the_root_fleet_yaml_gives_the_fleet_settings(tmp_path: Path) -> None:
    fleet = ("apiVersion: fleetward/v1\nkind: Fleet\nmetadata: {name: msp}\n"
             "spec: {statusBranch: status/main, defaults: {timezone: Europe/Paris}}\n")
    write_files(tmp_path, {**minimal_fleet(), "fleet.yaml": fleet})
    desired = load_revision(DirectorySource(tmp_path))
    assert (desired.fleet.status_branch, desired.fleet.defaults.timezone) == ("status/main", "Europe/Paris")


MANY_MISTAKES = {
    "clients/acme/client.yaml": ACME_CLIENT,
    "clients/acme/z.yaml": package_yaml(sha256="abc").replace('"1.0.0"', "1.0"),
    "clients/acme/a.yaml": deployment_yaml(package="nope", group="linux-boxes") + "---\n" + LINUX_GROUP,
    "clients/acme/b.yaml": LINUX_GROUP,
    "clients/globex/client.yaml": ACME_CLIENT.replace("acme", "globex") + "kind: Client\n",
    "clients/initech/p.yaml": package_yaml(name="Tps") + "---\n" + package_yaml(name="tps"),
    "packages/x.yaml": package_yaml(url="ftp://example.com/x.tar.gz"),
    "fleet.yaml": "apiVersion: fleetward/v2\nkind: Fleet\nmetadata: {name: msp}\n",
}

EVERY_PROBLEM = [
    "clients/acme/a.yaml:5:12: no Package 'nope' in clients/acme/ or MSP-wide",
    "clients/acme/b.yaml:3:18: duplicate DeviceGroup 'linux-boxes' in clients/acme/; the first is at "
    "clients/acme/a.yaml:9:1",
    'clients/acme/z.yaml:5:12: expected a string, got the number 1.0: quote it ("1.0")',
    "clients/acme/z.yaml:10:15: 'sha256' must be 64 lower-case hex digits (the output of sha256sum), "
    "got 'abc'",
    "clients/globex/client.yaml:5:1: duplicate key 'kind' (first at line 2); a key may appear once "
    "per mapping",
    "clients/initech/p.yaml:1:1: clients/initech/ has no Client resource; add "
    "clients/initech/client.yaml (kind: Client, metadata.name: initech)",
    "clients/initech/p.yaml:3:18: 'name' must be lower-case letters, digits and '-', 1-63 characters, "
    "starting and ending with a letter or digit, got 'Tps'",
    "fleet.yaml:1:13: apiVersion must be fleetward/v1, got 'fleetward/v2'",
    "packages/x.yaml:9:12: url must start with https://, http:// (loopback only) or file://",
]


def test_every_problem_comes_back_at_once_in_a_stable_order(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, MANY_MISTAKES)
    with pytest.raises(RevisionInvalid) as raised:
        load_revision(GitTreeSource(repo, sha))
    assert [str(p) for p in raised.value.problems] == EVERY_PROBLEM
    assert raised.value.revision == sha
    assert str(raised.value) == (f"revision {sha[:12]} is invalid (9 problems) (fix every "
                                 "path:line:col listed and commit again)")
    # The working tree of the same files says the same, as `fleetward validate` runs it.
    assert [str(p) for p in check_files(DirectorySource(repo))] == EVERY_PROBLEM


def test_a_valid_revision_has_no_problems(tmp_path: Path) -> None:
    write_files(tmp_path, minimal_fleet())
    assert check_files(DirectorySource(tmp_path)) == []
