"""The write endpoints over real HTTP, against a running controller and a real bare remote.

Every write is read back from the remote with ``git show``; refusals are checked to have
left every ref of the remote where it was.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.loading import GitTreeSource, load_revision
from controller.store import list_audit
from tests.support.gitrepos import git
from tests.support.running import RunningController, run_controller
from tests.writing.conftest import Remote, make_remote
from tests.writing.fleet import fleet_files, package_body
from tests.writing.texts import RICH, load_yaml

SEALED = "sealed:v1:0123456789abcdef:" + "A" * 60


@pytest.fixture
def served(tmp_path: Path, remote: Remote, database_url: str) -> Iterator[RunningController]:
    with run_controller(remote.url, tmp_path / "controller", database_url) as running:
        running.wait_applied(remote.tip())
        yield running


@pytest.fixture
def direct(tmp_path: Path, database_url: str) -> Iterator[tuple[RunningController, Remote]]:
    remote = make_remote(tmp_path / "direct", fleet_files(mode="direct"))
    with run_controller(remote.url, tmp_path / "controller", database_url) as running:
        running.wait_applied(remote.tip())
        yield running, remote


def client_for(running: RunningController, role: str = "operator", client: str | None = None,
               name: str = "alice") -> httpx.Client:
    return running.api(running.token(role=role, client=client, name=name))


def test_a_new_package_lands_as_yaml_on_a_proposal_branch_with_its_plan_link_and_an_audit_row(served, remote):
    before = remote.tip()
    with client_for(served) as api:
        response = api.post("/api/software/packages", json=package_body("tool"))

    assert response.status_code == 202, response.text
    body = response.json()
    branch = body["branch"]
    assert branch.startswith("proposals/api-") and branch.endswith("-package-tool")
    assert body == {"branch": branch, "commit": remote.tip(branch), "mode": "proposal",
                    "plan": f"/api/plans/{branch}", "files": ["packages/tool.yaml"], "created": True}
    assert remote.tip() == before
    assert remote.show(branch, "packages/tool.yaml") == f"""\
# yaml-language-server: $schema=../.fleetward/schemas/resource.schema.json
apiVersion: fleetward/v1
kind: Package
metadata: {{name: tool}}
spec:
  version: "1.0.0"
  installers:
    - os: linux
      type: archive
      url: https://dl.example.com/tool.tar.gz
      sha256: {"ab" * 32}
      size: 1024
"""
    [row] = [row for row in list_audit(served.store, None) if row.action == "desired-state.write"]
    assert (row.actor, row.actor_kind, row.target, row.client) == ("alice", "api-token", "Package/tool", None)
    assert row.detail is not None and row.detail["commit"] == body["commit"] and row.detail["branch"] == branch


def test_every_write_endpoint_writes_its_kind_where_it_belongs(served, remote):
    with client_for(served, role="admin") as api:
        writes = {
            "policy": api.post("/api/policies", json={
                "name": "firewall", "client": "acme", "targets": {"group": "linux-boxes"},
                "checks": [{"name": "on", "script": "disk-free"}], "mode": "enforce"}),
            "rule": api.post("/api/alerts/ticket-rules", json={
                "name": "offline", "match": {"alertTypes": ["offline"]}, "routing": {"priority": "high"}}),
            "licence": api.post("/api/assets/licenses", json={
                "name": "office", "client": "globex", "product": "Office", "seats": 10, "key": SEALED,
                "expires": "2027-06-30"}),
            "script": api.post("/api/scripts", json={
                "name": "reboot", "shell": "powershell", "os": ["windows"], "content": "Restart-Computer\r\n"}),
            "replace rule": api.put("/api/alerts/ticket-rules/acme.critical-disk", json={
                "match": {"alertTypes": ["disk_free"]}, "persistMinutes": 15}),
            "assign": api.post("/api/policies/globex.backups/assign",
                               json={"groups": ["all-linux", "servers"], "devices": ["srv-1"]}),
        }
    for what, response in writes.items():
        assert response.status_code == 202, (what, response.text)
    branch = {what: response.json()["branch"] for what, response in writes.items()}
    assert {what: response.json()["files"] for what, response in writes.items()} == {
        "policy": ["clients/acme/policies/firewall.yaml"], "rule": ["alert-rules/offline.yaml"],
        "licence": ["clients/globex/licenses/office.yaml"],
        "script": ["scripts/reboot.ps1", "scripts/reboot.yaml"],
        "replace rule": ["clients/acme/disk.yaml"], "assign": ["clients/globex/backups.yaml"]}

    policy = load_yaml(remote.show(branch["policy"], "clients/acme/policies/firewall.yaml"))
    assert policy["spec"] == {"targets": {"group": "linux-boxes"}, "checks": [{"name": "on", "script": "disk-free"}],
                              "mode": "enforce"}
    licence = load_yaml(remote.show(branch["licence"], "clients/globex/licenses/office.yaml"))
    assert licence["spec"]["key"] == SEALED and str(licence["spec"]["expires"]) == "2027-06-30"
    script = load_yaml(remote.show(branch["script"], "scripts/reboot.yaml"))
    assert script["spec"] == {"shell": "powershell", "os": ["windows"], "file": "scripts/reboot.ps1"}
    assert git_bytes(remote, branch["script"], "scripts/reboot.ps1") == b"Restart-Computer\r\n"
    assert remote.show(branch["replace rule"], "clients/acme/disk.yaml") == RICH.replace(
        "    severities:\n      - critical\n", "").replace(
        "  routing: {priority: high}    # paged\n", "  persistMinutes: 15\n")
    assigned = load_yaml(remote.show(branch["assign"], "clients/globex/backups.yaml"))["spec"]["targets"]
    assert assigned == {"group": "all-linux", "groups": ["servers"], "devices": ["srv-1"]}
    for name in ("policy", "rule", "licence", "script"):  # every proposal is a valid revision
        load_revision(GitTreeSource(remote.bare, branch[name]))


def git_bytes(remote: Remote, rev: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(remote.bare), "show", f"{rev}:{path}"], capture_output=True,
                          check=True).stdout


def test_replacing_a_policy_changes_only_its_values_and_keeps_its_file_otherwise_byte_for_byte(served, remote):
    with client_for(served, client="acme") as api:
        response = api.put("/api/policies/acme.enough-disk", json={
            "description": "Keep 20% free", "targets": {"group": "linux-boxes", "devices": ["pc-1", "pc-2"]},
            "mode": "enforce", "schedule": {"every": "1h"},
            "checks": [{"name": "free", "script": "disk-free", "params": {"min_percent": 20, "unit": "GiB"}}]})

    assert response.status_code == 202, response.text
    assert remote.show(response.json()["branch"], "clients/acme/disk.yaml") == (
        RICH.replace("'Keep disks from filling up'", "'Keep 20% free'")
        .replace("mode:   audit", "mode:   enforce")
        .replace("{every: 4h}", "{every: 1h}")
        .replace('{min_percent: 15, unit: "GiB"}', '{min_percent: 20, unit: "GiB"}'))


def test_a_write_that_would_make_the_fleet_invalid_is_422_with_every_problem_and_pushes_nothing(served, remote):
    before = remote.refs()
    with client_for(served) as api:
        response = api.post("/api/policies", json={
            "name": "broken", "client": "acme", "targets": {"groups": ["nope"]},
            "checks": [{"name": "x", "script": "no-such-script"}]})

    assert response.status_code == 422
    assert response.json()["code"] == "revision_invalid"
    assert response.json()["problems"] == [
        "clients/acme/policies/broken.yaml:8:9: no DeviceGroup 'nope' in clients/acme/ or MSP-wide",
        "clients/acme/policies/broken.yaml:11:15: no Script 'no-such-script' in clients/acme/ or MSP-wide",
    ]
    assert remote.refs() == before


def test_a_client_token_writes_only_its_own_clients_resources(served, remote):
    before = remote.refs()
    with client_for(served, client="acme", name="acme-ops") as api:
        refused = {
            "other client": api.post("/api/software/packages", json=package_body("tool", client="globex")),
            "msp-wide": api.post("/api/software/packages", json=package_body("tool")),
            "msp-wide policy": api.put("/api/policies/patched", json={
                "targets": {"group": "all-linux"}, "checks": [{"name": "recent", "script": "patch-check"}]}),
            "msp-wide assign": api.post("/api/policies/patched/assign", json={"devices": ["pc-1"]}),
        }
        hidden = api.post("/api/policies/globex.backups/assign", json={"devices": ["pc-1"]})
        elsewhere = api.post("/api/scripts", json={"name": "x", "client": "acme", "shell": "sh", "os": ["linux"],
                                                   "file": "clients/globex/x.sh", "content": "echo\n"})
        assert remote.refs() == before
        allowed = api.post("/api/software/packages", json=package_body("tool", client="acme"))

    assert {what: (r.status_code, r.json()["code"]) for what, r in refused.items()} == dict.fromkeys(
        refused, (403, "forbidden"))
    assert hidden.status_code == 404
    assert elsewhere.status_code == 422 and "must be in clients/acme/" in elsewhere.json()["message"]
    assert allowed.status_code == 202 and allowed.json()["files"] == ["clients/acme/packages/tool.yaml"]
    refusals = [row for row in list_audit(served.store, None) if row.action == "desired-state.write-refused"]
    assert {(row.actor, row.target) for row in refusals} == {("acme-ops", "Package/globex.tool"),
                                                             ("acme-ops", "Package/tool"),
                                                             ("acme-ops", "Policy/patched")}


def test_viewers_read_but_cannot_write(served, remote):
    before = remote.refs()
    with client_for(served, role="viewer") as api:
        write = api.post("/api/software/packages", json=package_body("tool"))
        read = api.get("/api/software/packages")

    assert (write.status_code, write.json()["code"]) == (403, "forbidden")
    assert read.status_code == 200
    assert remote.refs() == before


def test_reads_come_from_the_applied_revision_and_are_scoped_to_the_tokens_client(served, remote):
    with client_for(served, role="viewer") as everyone, client_for(served, role="viewer", client="acme") as acme:
        all_policies = everyone.get("/api/policies").json()
        acme_policies = acme.get("/api/policies").json()
        scripts = acme.get("/api/scripts/library").json()
        rules = everyone.get("/api/alerts/ticket-rules", params={"client": "acme"}).json()
        packages = acme.get("/api/software/packages").json()
        other = acme.get("/api/policies", params={"client": "globex"})

    assert all_policies["revision"] == remote.tip()
    assert [item["id"] for item in all_policies["items"]] == ["patched", "acme.enough-disk", "globex.backups"]
    assert [item["id"] for item in acme_policies["items"]] == ["patched", "acme.enough-disk"]
    assert acme_policies["items"][1]["source"] == "clients/acme/disk.yaml:14:1"
    assert acme_policies["items"][1]["spec"]["targets"] == {"group": "linux-boxes", "groups": [],
                                                            "devices": ["pc-1", "pc-2"]}
    assert [item["id"] for item in scripts["items"]] == ["patch-check", "acme.disk-free"]
    assert [item["id"] for item in rules["items"]] == ["acme.critical-disk"]
    assert [item["id"] for item in packages["items"]] == ["acme.hello-tool"]
    assert other.status_code == 403


def test_unknown_ids_are_not_found(served):
    with client_for(served) as api:
        responses = [
            api.put("/api/policies/nope", json={"targets": {"group": "x"}, "checks": [{"name": "a", "script": "b"}]}),
            api.post("/api/policies/acme.nope/assign", json={"groups": ["linux-boxes"]}),
            api.put("/api/alerts/ticket-rules/globex.critical-disk", json={}),
            api.put("/api/policies/Not.A.Name", json={"targets": {"group": "x"},
                                                      "checks": [{"name": "a", "script": "b"}]}),
        ]
    assert [(r.status_code, r.json()["code"]) for r in responses] == [(404, "not_found")] * 4


def test_creating_what_exists_is_409_and_says_where(served):
    with client_for(served) as api:
        response = api.post("/api/policies", json={"name": "enough-disk", "client": "acme",
                                                   "targets": {"group": "linux-boxes"},
                                                   "checks": [{"name": "x", "script": "disk-free"}]})
    assert response.status_code == 409
    assert response.json()["code"] == "already_exists"
    assert "clients/acme/disk.yaml" in response.json()["message"]


def test_a_plaintext_licence_key_is_refused_and_never_echoed(served, remote):
    before = remote.refs()
    with client_for(served) as api:
        response = api.post("/api/assets/licenses", json={"name": "office", "product": "Office", "seats": 3,
                                                          "key": "XKCD-9999-PLAIN-TEXT"})

    assert response.status_code == 422
    assert "fleetward seal" in response.text
    assert "XKCD-9999-PLAIN-TEXT" not in response.text
    assert remote.refs() == before


def test_direct_writes_commit_to_the_applied_branch_and_the_controller_applies_them(direct):
    running, remote = direct
    with client_for(running) as api:
        response = api.post("/api/software/packages", json=package_body("tool", client="acme"))
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["mode"], body["branch"], body["plan"], body["commit"]) == ("direct", "main", None, remote.tip())
        running.wait_applied(body["commit"])
        listed = api.get("/api/software/packages", params={"client": "acme"}).json()["items"]
        licence = {"name": "office", "client": "acme", "product": "Office", "seats": 10}
        created = api.post("/api/assets/licenses", json=licence).json()
        updated = api.post("/api/assets/licenses", json={**licence, "seats": 12, "key": SEALED}).json()
        again = api.post("/api/assets/licenses", json={**licence, "seats": 12, "key": SEALED})

    assert [item["id"] for item in listed] == ["acme.hello-tool", "acme.tool"]
    assert (created["created"], updated["created"]) == (True, False)
    assert created["files"] == updated["files"] == ["clients/acme/licenses/office.yaml"]
    assert remote.show("main", "clients/acme/licenses/office.yaml").endswith(
        f"spec:\n  product: Office\n  seats: 12\n  key: {SEALED}\n")
    assert again.status_code == 200  # nothing to change: no commit
    assert again.json() == {"branch": None, "commit": None, "mode": "direct", "plan": None, "files": [],
                            "created": False}


def test_concurrent_direct_writes_through_the_api_all_land(direct):
    running, remote = direct
    start = remote.tip()
    names = ["one", "two", "three", "four"]
    answers: dict[str, int] = {}
    barrier = threading.Barrier(len(names))

    def post(name: str) -> None:
        with client_for(running, name=f"writer-{name}") as api:
            barrier.wait()
            answers[name] = api.post("/api/software/packages", json=package_body(name)).status_code

    threads = [threading.Thread(target=post, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert answers == dict.fromkeys(names, 202)  # each answered after its commit was pushed
    assert _packages(remote) == sorted(f"packages/{name}.yaml" for name in names)
    assert git(remote.bare, "rev-list", "--count", f"{start}..main") == str(len(names))
    assert git(remote.bare, "rev-list", "--merges", "main") == ""
    running.wait_applied(remote.tip())


def _packages(remote: Remote) -> list[str]:
    return git(remote.bare, "ls-tree", "--name-only", "main", "packages/").splitlines()
