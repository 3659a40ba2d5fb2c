"""POST /api/hooks/git: verified GitHub, GitLab and Gitea events trigger one coalesced fetch."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from controller.store import list_audit
from tests.support.fleets import deployment_yaml, minimal_fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller, wait_until

SECRET = b"s3cret-shared-with-the-git-host"
BODY = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "msp/fleet"}}).encode()


def github(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": "push",
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()}


def gitea(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {"X-Gitea-Event": "push", "X-Gitea-Signature": hmac.new(secret, body, hashlib.sha256).hexdigest()}


def gitlab(_body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret.decode()}


@pytest.fixture
def hooked(tmp_path, sqlite_url):
    repo = init_repo(tmp_path / "fleet")
    first = commit(repo, minimal_fleet())
    (tmp_path / "hook-secret").write_bytes(SECRET + b"\n")
    # Fetching on a timer is effectively off and the local ref watcher is off: only a webhook can
    # make the controller see a new commit quickly.
    with run_controller(f"file://{repo}", tmp_path / "ctl", sqlite_url, fetch_interval=3600, watch_local=False,
                        webhook_secret_file=tmp_path / "hook-secret") as running:
        running.wait_applied(first)
        settle(running)
        yield running, repo


def settle(running) -> None:
    """Wait until no fetch is pending (wait_applied asked for one)."""
    def quiet() -> bool:
        before = running.controller.reconciler.fetches
        time.sleep(0.4)
        return running.controller.reconciler.fetches == before

    wait_until(quiet, what="the controller to stop fetching")


@pytest.mark.parametrize("sign", [github, gitea, gitlab], ids=["github", "gitea", "gitlab"])
def test_a_verified_push_event_applies_the_new_commit(hooked, sign):
    running, repo = hooked
    second = commit(repo, {"clients/acme/more.yaml": deployment_yaml(name="again")})
    started = time.monotonic()
    response = httpx.post(f"{running.url}/api/hooks/git", content=BODY, headers=sign(BODY))
    assert response.status_code == 202 and response.json()["fetch"] == "scheduled"
    wait_until(lambda: running.applied_revision() == second, timeout=10, interval=0.05, what="the commit")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="missing"),
    pytest.param(github(BODY, b"wrong"), id="github-wrong-secret"),
    pytest.param({"X-Hub-Signature-256": "sha256=" + "0" * 64}, id="github-forged"),
    pytest.param(gitlab(BODY, b"wrong"), id="gitlab-wrong-token"),
    pytest.param(gitea(b"another body"), id="gitea-signature-of-other-body"),
])
def test_forged_or_unsigned_events_are_refused_audited_and_fetch_nothing(hooked, headers):
    running, repo = hooked
    fetches = running.controller.reconciler.fetches
    second = commit(repo, {"clients/acme/more.yaml": deployment_yaml(name="again")})
    response = httpx.post(f"{running.url}/api/hooks/git", content=BODY, headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "webhook_unauthorized"
    time.sleep(1.0)
    assert running.controller.reconciler.fetches == fetches
    assert running.applied_revision() != second
    assert any(record.action == "webhook.refused" for record in list_audit(running.store, None, 20))


def test_a_flood_of_events_is_coalesced(hooked):
    running, repo = hooked
    commit(repo, {"clients/acme/more.yaml": deployment_yaml(name="again")})
    before = running.controller.reconciler.fetches
    with httpx.Client(base_url=running.url) as client:
        for _ in range(40):
            assert client.post("/api/hooks/git", content=BODY, headers=github(BODY)).status_code == 202
    time.sleep(1.5)
    fetched = running.controller.reconciler.fetches - before
    assert 1 <= fetched <= 5, f"{fetched} fetches for 40 events"


def test_without_a_secret_every_webhook_is_refused(tmp_path, sqlite_url):
    repo = init_repo(tmp_path / "fleet")
    first = commit(repo, minimal_fleet())
    with run_controller(f"file://{repo}", tmp_path / "ctl", sqlite_url) as running:
        running.wait_applied(first)
        response = httpx.post(f"{running.url}/api/hooks/git", content=BODY, headers=github(BODY))
    assert response.status_code == 401
    assert "no webhook secret is configured" in response.json()["message"]
