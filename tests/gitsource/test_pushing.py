"""Pushing the status branch back, and rebuilding on top when someone else pushed first."""

from __future__ import annotations

import random

import pytest

from controller.errors import ConfigError, NotFound, SourceUnavailable
from controller.gitsource import Backoff, RepoMirror, commit_files, push_branch
from tests.support.gitrepos import commit, git, init_repo

AUTHOR = ("Fleetward", "fleetward@controller.invalid")
BRANCH = "fleetward/status"
FILES = {"summary.md": b"2 devices\n", "devices/pc-1.md": b"online\n"}
QUICK = Backoff(initial=0.001, maximum=0.002, random=random.Random(1))


def test_pushes_the_status_branch_to_the_remote(remote, mirror):
    sha = commit_files(mirror, BRANCH, FILES, "Status", AUTHOR)
    push_branch(mirror, BRANCH)
    assert git(remote.bare, "rev-parse", f"refs/heads/{BRANCH}") == sha
    assert mirror.head(BRANCH) == sha  # the remote-tracking ref follows the push
    assert mirror.fetch()[BRANCH] == sha
    push_branch(mirror, BRANCH)  # nothing new: a no-op, not an error


def test_a_push_race_is_retried_through_rebuild(remote, mirror):
    ours = commit_files(mirror, BRANCH, FILES, "Status from replica A", AUTHOR)
    # Replica B pushes to the same branch between our commit and our push.
    other = remote.clone("replica-b")
    git(other, "checkout", "-q", "--orphan", BRANCH)
    theirs = commit(other, {"summary.md": "1 device\n"}, "Status from replica B")
    git(other, "push", "-q", "origin", BRANCH)

    rebuilt: list[str | None] = []

    def rebuild() -> None:
        rebuilt.append(commit_files(mirror, BRANCH, FILES, "Status from replica A", AUTHOR))

    push_branch(mirror, BRANCH, rebuild=rebuild, backoff=QUICK)
    tip = git(remote.bare, "rev-parse", f"refs/heads/{BRANCH}")
    assert rebuilt == [tip] and tip != ours
    history = git(remote.bare, "log", "--format=%H %s", BRANCH).splitlines()
    assert history == [f"{tip} Status from replica A", f"{theirs} Status from replica B"]
    assert git(remote.bare, "show", f"{tip}:summary.md") == "2 devices"


def test_a_rejected_push_without_rebuild_is_unavailable(remote, mirror):
    commit_files(mirror, BRANCH, FILES, "ours", AUTHOR)
    remote.push({"x.md": "theirs\n"}, "theirs", branch=BRANCH)
    with pytest.raises(SourceUnavailable, match="someone else pushed"):
        push_branch(mirror, BRANCH)


def test_gives_up_after_the_attempts_while_others_keep_pushing(remote, mirror):
    commit_files(mirror, BRANCH, FILES, "ours", AUTHOR)
    remote.push({"x.md": "0\n"}, "theirs 0", branch=BRANCH)
    calls = []

    def rebuild() -> None:
        calls.append(commit_files(mirror, BRANCH, FILES, "ours", AUTHOR))
        remote.push({"x.md": f"{len(calls)}\n"}, f"theirs {len(calls)}", branch=BRANCH)  # and again

    with pytest.raises(SourceUnavailable, match="rejected 3 times"):
        push_branch(mirror, BRANCH, rebuild=rebuild, attempts=3, backoff=QUICK)
    assert len(calls) == 2


def test_the_protected_branch_is_never_pushed(remote, mirror):
    before = git(remote.bare, "rev-parse", "main")
    commit_files(mirror, "main", {"evil.yaml": b"kind: Deployment\n"}, "status over desired state", AUTHOR)
    with pytest.raises(ConfigError, match="refusing to push 'main'") as raised:
        push_branch(mirror, "main")
    assert "statusBranch" in raised.value.hint
    assert git(remote.bare, "rev-parse", "main") == before


def test_a_local_source_with_the_branch_checked_out_is_a_clear_error(tmp_path):
    source = init_repo(tmp_path / "fleet")
    commit(source, {"fleet.yaml": "x: 1\n"})
    git(source, "checkout", "-q", "-b", BRANCH)
    mirror = RepoMirror(str(source), tmp_path / "repo.git", protected={"main"})
    mirror.fetch()
    commit_files(mirror, BRANCH, FILES, "Status", AUTHOR)
    with pytest.raises(ConfigError, match="checked out in its work tree") as raised:
        push_branch(mirror, BRANCH, rebuild=lambda: None)
    mirror.close()
    assert "bare repository" in raised.value.hint
    assert not raised.value.retryable


def test_a_branch_never_committed_cannot_be_pushed(mirror):
    with pytest.raises(NotFound, match="no branch 'fleetward/status'"):
        push_branch(mirror, BRANCH)


def test_an_unreachable_remote_on_push_is_unavailable(tmp_path, remote):
    mirror = RepoMirror(str(remote.bare), tmp_path / "repo.git")
    mirror.fetch()
    commit_files(mirror, BRANCH, FILES, "Status", AUTHOR)
    moved = remote.bare.rename(tmp_path / "moved.git")
    with pytest.raises(SourceUnavailable, match=r"git push of 'fleetward/status' to .* failed"):
        push_branch(mirror, BRANCH, rebuild=lambda: None)
    mirror.close()
    assert moved.exists()
