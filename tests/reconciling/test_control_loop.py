"""The control loop against real git and a real database: watching, failures, restarts, status."""

from __future__ import annotations

import subprocess
import time

import pytest

from controller.store import list_revisions
from tests.support.databases import terminate_backends
from tests.support.fleets import deployment_yaml, minimal_fleet
from tests.support.gitrepos import commit, git, init_repo
from tests.support.running import run_controller, wait_until


def status_log(repo) -> list[str]:
    done = subprocess.run(["git", "-C", str(repo), "log", "--format=%H", "fleetward/status"],
                          capture_output=True, text=True, check=False)
    return done.stdout.split() if done.returncode == 0 else []


def test_a_commit_to_a_local_repository_applies_within_two_seconds(tmp_path, sqlite_url):
    repo = init_repo(tmp_path / "fleet")
    first = commit(repo, minimal_fleet())
    with run_controller(str(repo), tmp_path / "controller", sqlite_url, fetch_interval=300) as running:
        running.wait_applied(first)
        time.sleep(0.5)  # let the watcher settle on the current refs
        second = commit(repo, {"clients/acme/more.yaml": deployment_yaml(name="again")})
        started = time.monotonic()
        wait_until(lambda: running.applied_revision() == second, timeout=10, interval=0.05,
                   what="the watcher to apply the commit")
        assert time.monotonic() - started < 2.0


def test_an_unreachable_repository_keeps_the_last_good_revision(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    good = commit(repo, minimal_fleet())
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(good)
        moved = tmp_path / "moved-away"
        repo.rename(moved)
        running.controller.reconciler.request_fetch()

        def source():
            with running.api() as api:
                return api.get("/api/revisions").json()["source"]

        broken = wait_until(lambda: not source()["ok"] and source(), what="the fetch error")
        assert "fleet" in broken["error"] and broken["since"]
        assert running.applied_revision() == good
        snapshot = running.controller.publisher
        wait_until(lambda: snapshot.last_error, what="status publishing to notice")
        moved.rename(repo)
        running.controller.reconciler.backoff.reset()
        running.controller.reconciler.request_fetch()
        wait_until(lambda: source()["ok"], timeout=30, what="recovery after the repository is back")


def test_restart_keeps_the_last_good_revision_when_the_head_is_broken(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    good = commit(repo, minimal_fleet())
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(good)
        bad = commit(repo, {"clients/acme/broken.yaml": "kind: [oops\n"})
        running.controller.reconciler.request_fetch()
        wait_until(lambda: list_revisions(running.store, 10, "rejected"), what="the rejection")
    with run_controller(str(repo), tmp_path / "controller", database_url) as restarted:
        wait_until(lambda: restarted.controller.reconciler.passes > 0, what="a reconcile pass")
        assert restarted.applied_revision() == good
        assert restarted.controller.reconciler.applied is not None
        assert restarted.controller.reconciler.applied.revision == good
        rejected = list_revisions(restarted.store, 10, "rejected")
        assert [row.sha for row in rejected] == [bad]
        assert rejected[0].problems[0].startswith("clients/acme/broken.yaml:2:1: YAML syntax error")


def test_status_is_committed_once_and_not_again_while_nothing_changes(tmp_path, sqlite_url):
    repo = init_repo(tmp_path / "fleet")
    good = commit(repo, minimal_fleet())
    with run_controller(str(repo), tmp_path / "controller", sqlite_url, status_interval=0.3) as running:
        running.wait_applied(good)
        first = wait_until(lambda: status_log(repo), what="the first status commit")
        time.sleep(1.5)  # several status intervals
        assert status_log(repo) == first
        assert git(repo, "rev-parse", "main") == good
        assert git(repo, "show", "fleetward/status:revisions.md").startswith("# Revisions")


def test_the_controller_recovers_when_database_connections_are_killed(tmp_path, pg_url):
    repo = init_repo(tmp_path / "fleet")
    good = commit(repo, minimal_fleet())
    with run_controller(str(repo), tmp_path / "controller", pg_url) as running, running.api() as api:
        # The API token is made first: the helper writes it through the controller's own pool, and a
        # connection used a moment before the kill is not pinged, so that write would be the one to fail.
        running.wait_applied(good)
        assert terminate_backends(pg_url) >= 1
        response = wait_until(lambda: api.get("/api/revisions"), what="an answer")
        assert response.status_code in (200, 503)
        if response.status_code == 503:
            assert response.json()["code"] == "store_unavailable"
            assert response.headers["retry-after"]
        wait_until(lambda: api.get("/api/revisions").status_code == 200, what="recovery")
        second = commit(repo, {"clients/acme/more.yaml": deployment_yaml(name="again")})
        running.wait_applied(second)


@pytest.mark.parametrize("status_branch", ["main"], ids=["status-branch-is-the-applied-branch"])
def test_status_is_never_written_to_the_applied_branch(tmp_path, sqlite_url, status_branch):
    repo = init_repo(tmp_path / "fleet")
    fleet_yaml = ("apiVersion: fleetward/v1\nkind: Fleet\nmetadata: {name: msp}\n"
                  f"spec: {{statusBranch: {status_branch}}}\n")
    good = commit(repo, {**minimal_fleet(), "fleet.yaml": fleet_yaml})
    with run_controller(str(repo), tmp_path / "controller", sqlite_url) as running:
        running.wait_applied(good)
        wait_until(lambda: running.controller.publisher.last_error, what="the refusal")
        assert "is the applied branch" in running.controller.publisher.last_error
        assert git(repo, "rev-parse", "main") == good
