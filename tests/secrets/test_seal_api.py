"""The public key over HTTP, ``fleetward seal --server`` against a running controller, and the
plaintext nowhere: not in git (branches, status, plans), the API's answers, or the logs."""

from __future__ import annotations

import logging
import subprocess

import httpx
import pytest

from controller.secrets import KeyFolder, SealedSecrets, find_sealed
from tests.secrets.commands import fleetward
from tests.secrets.fleets import fleet_yaml, licence_yaml
from tests.support.fleets import minimal_fleet
from tests.support.gitrepos import commit, git
from tests.support.running import run_controller, wait_until

WEBHOOK = "gh-webhook-secret-a71f55c2"
LICENCE = "M365-LICENCE-KEY-Q7RT-22XZ"
NEW_LICENCE = "M365-LICENCE-KEY-NEXT-9KWM"


def seal_with_server(url: str, value: str) -> str:
    done = fleetward("seal", "--server", url, stdin=value)
    assert done.returncode == 0, done.stderr
    assert value not in done.stdout + done.stderr
    return done.stdout.strip()


@pytest.fixture
def remote(tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    base = commit(clone, minimal_fleet(), "ACME")
    git(clone, "push", "-q", "origin", "main")
    return remote, clone, base


def test_the_public_key_needs_no_token_and_follows_rotation(tmp_path, remote, sqlite_url):
    repo, _clone, base = remote
    with run_controller(f"file://{repo}", tmp_path / "ctl", sqlite_url) as running:
        running.wait_applied(base)
        response = httpx.get(f"{running.url}/api/seal/public-key", timeout=10)
        assert response.status_code == 200
        folder = KeyFolder(tmp_path / "ctl" / "keys")
        assert response.json() == folder.keyring().sealing_key.document()
        assert response.headers["cache-control"] == "no-cache"

        rotated = fleetward("seal", "key", "rotate", "--data-dir", str(tmp_path / "ctl"))
        assert rotated.returncode == 0, rotated.stderr
        new_id = rotated.stdout.split()[2]
        assert httpx.get(f"{running.url}/api/seal/public-key", timeout=10).json()["key_id"] == new_id
        assert seal_with_server(running.url, "after rotation").startswith(f"sealed:v1:{new_id}:")


def test_a_pinned_key_id_must_match_the_server(tmp_path, remote, sqlite_url):
    repo, _clone, _base = remote
    with run_controller(f"file://{repo}", tmp_path / "ctl", sqlite_url) as running:
        done = fleetward("seal", "--server", running.url, "--key-id", "0123456789abcdef", stdin=LICENCE)
        assert done.returncode == 2
        assert done.stdout == ""
        key_id = httpx.get(f"{running.url}/api/seal/public-key", timeout=10).json()["key_id"]
        pinned = fleetward("seal", "--server", running.url, "--key-id", key_id, stdin=LICENCE)
        assert pinned.returncode == 0 and pinned.stdout.startswith(f"sealed:v1:{key_id}:")


def test_seal_through_the_server_commit_apply_plan_and_the_plaintext_is_nowhere(tmp_path, remote, sqlite_url,
                                                                                caplog):
    repo, clone, base = remote
    caplog.set_level(logging.DEBUG)
    with run_controller(f"file://{repo}", tmp_path / "ctl", sqlite_url) as running:
        running.wait_applied(base)
        hook, key = seal_with_server(running.url, WEBHOOK), seal_with_server(running.url, LICENCE)
        applied = commit(clone, {"fleet.yaml": fleet_yaml(hook), "clients/acme/licences.yaml": licence_yaml(key)},
                         "sealed webhook secret and ACME's Microsoft 365 licence")
        git(clone, "push", "-q", "origin", "main")
        running.wait_applied(applied)

        # The controller opens what was sealed through its API, in memory, when asked.
        secrets = SealedSecrets(KeyFolder(tmp_path / "ctl" / "keys"))
        state = running.controller.reconciler.applied
        opened = {field.field: field.open(secrets).reveal() for field in find_sealed(state)}
        assert opened == {"spec.webhookSecret": WEBHOOK, "spec.key": LICENCE}

        # A proposal that changes the sealed key is planned like any other.
        git(clone, "checkout", "-q", "-b", "proposals/new-licence-key")
        commit(clone, {"clients/acme/licences.yaml": licence_yaml(seal_with_server(running.url, NEW_LICENCE))},
               "new Microsoft 365 key")
        git(clone, "push", "-q", "origin", "proposals/new-licence-key")
        with running.api() as api:
            wait_until(lambda: api.get("/api/plans/proposals/new-licence-key").status_code == 200,
                       timeout=30, what="the proposal's plan")
            answers = [api.get(path).text for path in (
                "/api/plans/proposals/new-licence-key", "/api/plans/proposals/new-licence-key?format=markdown",
                "/api/plans", "/api/revisions", "/api/deployments", "/api/agents", "/api/health",
                "/api/seal/public-key", "/openapi.json")]
        wait_until(lambda: "plans/" in git(repo, "ls-tree", "-r", "--name-only", "fleetward/status"),
                   timeout=30, what="the plan on the status branch")

    everything_in_git = subprocess.run(["git", "-C", str(repo), "log", "-p", "--all"], capture_output=True,
                                       text=True, check=True).stdout
    assert "new Microsoft 365 key" in everything_in_git and "fleetward/status" in git(repo, "branch", "-a")
    assert caplog.records
    for plaintext in (WEBHOOK, LICENCE, NEW_LICENCE):
        assert plaintext not in everything_in_git
        assert not [answer for answer in answers if plaintext in answer]
        assert plaintext not in caplog.text
