"""Reading a revision's files from git objects (no checkout) and from a working directory."""

from __future__ import annotations

import pytest

from controller.errors import ConfigError
from controller.loading import DirectorySource, GitTreeSource, load_revision
from tests.support.fleets import minimal_fleet, package_yaml
from tests.support.gitrepos import commit, git, init_repo, write_files


def test_reads_an_older_commit_while_the_working_tree_differs(tmp_path):
    repo = init_repo(tmp_path / "repo")
    first = commit(repo, minimal_fleet())
    commit(repo, {"clients/acme/hello.yaml": None})
    write_files(repo, {"clients/acme/junk.yaml": "not: [valid"})
    desired = load_revision(GitTreeSource(repo, first))
    assert desired.revision == first
    assert sorted(d.ref for d in desired.deployments.values()) == ["acme.hello-on-linux"]


def test_reads_a_bare_repository(tmp_path):
    work = init_repo(tmp_path / "work")
    sha = commit(work, minimal_fleet())
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    assert load_revision(GitTreeSource(bare, "main")).revision == sha


def test_reads_a_subdirectory(tmp_path):
    repo = init_repo(tmp_path / "repo")
    fleet = {f"infra/fleet/{path}": text for path, text in minimal_fleet().items()}
    commit(repo, {**fleet, "README.md": "# not fleet", "other/x.yaml": "not: fleet"})
    desired = load_revision(GitTreeSource(repo, "HEAD", "infra/fleet"))
    assert [loaded.location.path for loaded in desired.deployments.values()] == ["clients/acme/hello.yaml"]


@pytest.mark.parametrize(
    ("rev", "subdir", "message"),
    [
        pytest.param("nope", "", "revision 'nope' does not exist", id="missing-rev"),
        pytest.param("HEAD", "missing", "folder 'missing' is not in commit", id="missing-subdir"),
    ],
)
def test_bad_rev_or_subdir_is_a_clear_error(tmp_path, rev, subdir, message):
    repo = init_repo(tmp_path / "repo")
    commit(repo, minimal_fleet())
    with pytest.raises(ConfigError, match=message):
        GitTreeSource(repo, rev, subdir)


def test_dot_folders_and_non_yaml_files_are_not_fleet_files(tmp_path):
    write_files(tmp_path, {
        **minimal_fleet(),
        ".github/workflows/plan.yml": "on: push",
        ".gitlab-ci.yml": "stages: []",
        ".fleetward/schemas/x.yaml": "x: 1",
        "notes.txt": "kind: Package",
    })
    desired = load_revision(DirectorySource(tmp_path))
    assert len(list(desired.all_resources())) == 4


def test_oversized_blob_is_rejected_without_reading_it(tmp_path):
    repo = init_repo(tmp_path / "repo")
    big = package_yaml() + "# " + "x" * (1024 * 1024) + "\n"
    sha = commit(repo, {**minimal_fleet(), "packages/big.yaml": big})
    source = GitTreeSource(repo, sha)
    (big_file,) = [f for f in source.files() if f.path == "packages/big.yaml"]
    assert big_file.size > 1024 * 1024
    from controller.loading import check_files
    problems = [str(p) for p in check_files(source)]
    assert problems == [
        f"packages/big.yaml:1:1: file is {big_file.size} bytes, over the 1048576 byte limit; "
        "split it into several files"]
