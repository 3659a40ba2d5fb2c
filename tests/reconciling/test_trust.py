"""What the controller trusts before it applies: signatures of allowed signers, and sealed values it can open."""

from __future__ import annotations

import hashlib
import hmac
import subprocess

import httpx
import pytest

from controller.secrets import KeyFolder, seal
from controller.store import list_revisions
from tests.secrets.fleets import fleet_yaml, licence_yaml
from tests.support.fleets import deployment_yaml, minimal_fleet
from tests.support.gitrepos import commit, git
from tests.support.running import run_controller, wait_until


def ssh_key(folder, name: str) -> tuple[str, str]:
    """(private key path, public key line) of a new ed25519 key."""
    path = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
    return str(path), (folder / f"{name}.pub").read_text().strip()


def signed_commit(repo, files: dict, message: str, key: str | None) -> str:
    from tests.support.gitrepos import write_files

    write_files(repo, files)
    git(repo, "add", "-A")
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-S"] if key else ["commit"]
    git(repo, *signing, "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def signed_fleet(*signers: tuple[str, str]) -> str:
    lines = "\n".join(f'    - {{name: {name}, ssh: "{public}"}}' for name, public in signers)
    return ("apiVersion: fleetward/v1\nkind: Fleet\nmetadata: {name: msp}\nspec:\n"
            f"  requireSignedCommits: true\n  allowedSigners:\n{lines}\n")


@pytest.fixture
def repo(tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    return remote, clone


def rejection(running, sha: str) -> list[str]:
    running.controller.reconciler.request_fetch()
    rows = wait_until(lambda: [r for r in list_revisions(running.store, 20, "rejected") if r.sha == sha],
                      what=f"the rejection of {sha[:12]}")
    return rows[0].problems


def test_only_commits_signed_by_an_allowed_signer_are_applied(tmp_path, repo, database_url):
    remote, clone = repo
    alice_key, alice = ssh_key(tmp_path, "alice")
    mallory_key, mallory = ssh_key(tmp_path, "mallory")
    first = signed_commit(clone, {**minimal_fleet(), "fleet.yaml": signed_fleet(("Alice", alice))}, "start",
                          alice_key)
    git(clone, "push", "-q", "origin", "main")
    with run_controller(f"file://{remote}", tmp_path / "ctl", database_url) as running:
        running.wait_applied(first)

        unsigned = signed_commit(clone, {"clients/acme/a.yaml": deployment_yaml(name="a")}, "unsigned", None)
        git(clone, "push", "-q", "origin", "main")
        assert rejection(running, unsigned) == [
            f"fleet.yaml:1:1: commit {unsigned[:12]} is not applied: not signed (requireSignedCommits is on)"]

        # Mallory signs, and even adds herself to the signers: the applied revision's list decides.
        sneaky = signed_commit(clone, {"fleet.yaml": signed_fleet(("Alice", alice), ("Mallory", mallory))},
                               "let me in", mallory_key)
        git(clone, "push", "-q", "origin", "main")
        (problem,) = rejection(running, sneaky)
        assert "which is not an allowed signer" in problem and sneaky[:12] in problem
        assert running.applied_revision() == first
        # The status branch lists rejections newer than the applied revision: look before a good one lands.
        readme = wait_until(lambda: "is not applied" in (subprocess.run(
            ["git", "-C", str(remote), "show", "fleetward/status:revisions.md"], capture_output=True, text=True,
            check=False).stdout) or None, what="rejections on the status branch")
        assert readme is True

        good = signed_commit(clone, {"clients/acme/b.yaml": deployment_yaml(name="b")}, "signed by Alice",
                             alice_key)
        git(clone, "push", "-q", "origin", "main")
        running.wait_applied(good)


def test_a_value_sealed_to_another_controller_rejects_the_revision_naming_the_key(tmp_path, repo, sqlite_url):
    remote, clone = repo
    first = commit(clone, minimal_fleet(), "start")
    git(clone, "push", "-q", "origin", "main")
    stranger = KeyFolder(tmp_path / "other-controller")
    stranger_key = stranger.ensure().sealing_key
    foreign = seal("licence-123", stranger_key)
    with run_controller(f"file://{remote}", tmp_path / "ctl", sqlite_url) as running:
        running.wait_applied(first)
        bad = commit(clone, {"clients/acme/licences.yaml": licence_yaml(foreign)}, "licence sealed elsewhere")
        git(clone, "push", "-q", "origin", "main")
        (problem,) = rejection(running, bad)
        assert problem.startswith("clients/acme/licences.yaml:")
        assert stranger_key.key_id in problem
        assert "licence-123" not in problem
        assert running.applied_revision() == first


def test_the_fleets_sealed_webhook_secret_verifies_webhooks(tmp_path, repo, sqlite_url):
    remote, clone = repo
    first = commit(clone, minimal_fleet(), "start")
    git(clone, "push", "-q", "origin", "main")
    with run_controller(f"file://{remote}", tmp_path / "ctl", sqlite_url) as running:
        running.wait_applied(first)
        sealed = seal("hook-secret-9931", KeyFolder(tmp_path / "ctl" / "keys").ensure().sealing_key)
        second = commit(clone, {"fleet.yaml": fleet_yaml(sealed)}, "webhook secret")
        git(clone, "push", "-q", "origin", "main")
        running.wait_applied(second)
        body = b'{"ref": "refs/heads/main"}'
        good = "sha256=" + hmac.new(b"hook-secret-9931", body, hashlib.sha256).hexdigest()
        bad = "sha256=" + hmac.new(b"guess", body, hashlib.sha256).hexdigest()
        for signature, status in ((good, 202), (bad, 401)):
            response = httpx.post(f"{running.url}/api/hooks/git", content=body,
                                  headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature})
            assert response.status_code == status
