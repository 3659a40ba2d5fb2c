"""Committing whole file trees to a branch of the mirror, without a work tree."""

from __future__ import annotations

import pytest

from controller.gitsource import commit_files
from tests.support.gitrepos import git

AUTHOR = ("Fleetward", "fleetward@controller.invalid")
BRANCH = "fleetward/status"
STATUS = {
    "README.md": b"# Fleet status\n",
    "clients/acme/summary.md": b"acme: 2 devices\n",
    "clients/acme/devices/pc-1.yaml": b"online: true\n",
    "clients/acme/devices/pc-2.yaml": b"online: false\n",
}


def tree_of(repo, rev):
    """{path: content} of every file in ``rev``."""
    names = git(repo, "ls-tree", "-r", "--name-only", rev).splitlines()
    return {name: git(repo, "show", f"{rev}:{name}") for name in names}


def test_commits_nested_folders_as_a_full_tree(mirror):
    sha = commit_files(mirror, BRANCH, STATUS, "Status: 2 devices", AUTHOR)
    assert sha == git(mirror.path, "rev-parse", f"refs/heads/{BRANCH}")
    assert tree_of(mirror.path, sha) == {path: data.decode().rstrip("\n") for path, data in STATUS.items()}
    assert git(mirror.path, "ls-tree", sha, "clients/acme").split()[1] == "tree"
    assert git(mirror.path, "log", "-1", "--format=%an <%ae>|%cn|%s", sha) == (
        "Fleetward <fleetward@controller.invalid>|Fleetward|Status: 2 devices")
    assert git(mirror.path, "rev-list", "--count", sha) == "1"  # a new branch has no parent


def test_identical_files_make_no_commit(mirror):
    first = commit_files(mirror, BRANCH, STATUS, "Status", AUTHOR)
    assert commit_files(mirror, BRANCH, dict(reversed(STATUS.items())), "Status again", AUTHOR) is None
    assert git(mirror.path, "rev-parse", f"refs/heads/{BRANCH}") == first


def test_the_same_files_give_the_same_tree_on_any_branch(mirror):
    one = commit_files(mirror, "status-a", STATUS, "a", AUTHOR)
    two = commit_files(mirror, "status-b", dict(sorted(STATUS.items(), reverse=True)), "b", AUTHOR)
    trees = {git(mirror.path, "rev-parse", f"{sha}^{{tree}}") for sha in (one, two)}
    assert len(trees) == 1


def test_history_stays_linear_and_holds_exactly_the_files_given(mirror):
    first = commit_files(mirror, BRANCH, STATUS, "one", AUTHOR)
    fewer = {k: v for k, v in STATUS.items() if not k.endswith("pc-2.yaml")} | {"new.md": b"new\n"}
    second = commit_files(mirror, BRANCH, fewer, "two", AUTHOR)
    assert git(mirror.path, "rev-list", "--parents", "-1", second).split() == [second, first]
    assert set(tree_of(mirror.path, second)) == set(fewer)
    assert git(mirror.path, "rev-list", "--merges", "--count", second) == "0"


def test_builds_on_the_fetched_branch_when_it_is_newer(remote, mirror):
    theirs = remote.push({"other.md": "from a replica\n"}, "their status", branch=BRANCH)
    mirror.fetch()
    ours = commit_files(mirror, BRANCH, STATUS, "our status", AUTHOR)
    assert git(mirror.path, "rev-parse", f"{ours}^") == theirs
    assert set(tree_of(mirror.path, ours)) == set(STATUS)  # exactly our files, theirs replaced


def test_keeps_building_on_unpushed_local_commits(remote, mirror):
    remote.push({"other.md": "x\n"}, "their status", branch=BRANCH)
    mirror.fetch()
    first = commit_files(mirror, BRANCH, STATUS, "ours 1", AUTHOR)
    second = commit_files(mirror, BRANCH, {**STATUS, "README.md": b"changed\n"}, "ours 2", AUTHOR)
    assert git(mirror.path, "rev-parse", f"{second}^") == first


def test_identical_to_the_fetched_tip_moves_the_local_branch_there(remote, mirror):
    commit_files(mirror, BRANCH, {"a.md": b"stale\n"}, "ours, never pushed", AUTHOR)
    theirs = remote.push({"a.md": "same\n"}, "theirs", branch=BRANCH)
    mirror.fetch()
    same = {"fleet.yaml": b"apiVersion: fleetward/v1\n", "a.md": b"same\n"}  # their whole tree
    assert commit_files(mirror, BRANCH, same, "ours again", AUTHOR) is None
    assert git(mirror.path, "rev-parse", f"refs/heads/{BRANCH}") == theirs


def test_empty_files_on_a_new_branch_make_nothing(mirror):
    assert commit_files(mirror, BRANCH, {}, "nothing", AUTHOR) is None
    assert mirror.local_head(BRANCH) is None


def test_binary_and_unusual_names_round_trip(mirror):
    files = {"devices/pc #1 (ü).md": b"\x00\xff binary\n", "quote\"d name.txt": b"t"}
    sha = commit_files(mirror, BRANCH, files, "odd", AUTHOR)
    assert git(mirror.path, "ls-tree", "-r", "-z", "--name-only", sha).split("\0")[:-1] == sorted(files)
    odd = "devices/pc #1 (ü).md"
    assert git(mirror.path, "cat-file", "-s", f"{sha}:{odd}") == str(len(files[odd]))


@pytest.mark.parametrize(
    ("files", "complaint"),
    [
        pytest.param({"../escape.md": b""}, "must be relative", id="dot-dot"),
        pytest.param({"/abs.md": b""}, "must be relative", id="absolute"),
        pytest.param({"a//b.md": b""}, "must be relative", id="empty-part"),
        pytest.param({".git/config": b""}, "'.git'", id="dot-git"),
        pytest.param({"a\\b.md": b""}, "backslash", id="backslash"),
        pytest.param({"a\tb.md": b""}, "control character", id="tab"),
        pytest.param({"a": b"", "a/b": b""}, "both a file and a folder", id="file-and-folder"),
        pytest.param({"a.md": "text"}, "must be bytes", id="str-content"),
    ],
)
def test_paths_git_cannot_store_are_refused_before_anything_is_written(mirror, files, complaint):
    with pytest.raises(ValueError, match=complaint):
        commit_files(mirror, BRANCH, files, "bad", AUTHOR)
    assert mirror.local_head(BRANCH) is None


@pytest.mark.parametrize(
    ("message", "author", "complaint"),
    [
        pytest.param("", AUTHOR, "message is empty", id="empty-message"),
        pytest.param("ok", ("Fleet<ward>", "x@y"), "author name", id="angle-brackets"),
        pytest.param("ok", ("Fleetward", "x@y\nInjected: 1"), "author email", id="newline-email"),
    ],
)
def test_messages_and_authors_are_checked(mirror, message, author, complaint):
    with pytest.raises(ValueError, match=complaint):
        commit_files(mirror, BRANCH, STATUS, message, author)
