"""Reading a revision's files from git objects (no checkout) and from a working directory."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.errors import ConfigError
from controller.loading import DirectorySource, GitTreeSource, SourceFile, check_files, load_revision
from tests.support.fleets import minimal_fleet, package_yaml
from tests.support.gitrepos import commit, git, init_repo, write_files


def test_reads_an_older_commit_while_the_working_tree_differs(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    first = commit(repo, minimal_fleet())
    commit(repo, {"clients/acme/hello.yaml": None})
    write_files(repo, {"clients/acme/junk.yaml": "not: [valid", "clients/acme/client.yaml": None})
    desired = load_revision(GitTreeSource(repo, first))
    assert desired.revision == first
    assert [d.ref for d in desired.deployments.values()] == ["acme.hello-on-linux"]


def test_revision_is_the_full_sha_of_a_branch_or_tag(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, minimal_fleet())
    git(repo, "tag", "-a", "v1", "-m", "release")
    assert GitTreeSource(repo, "main").revision == sha
    assert GitTreeSource(repo, "v1").revision == sha
    assert re.fullmatch(r"[0-9a-f]{40}", sha)


def test_reads_a_bare_repository(tmp_path: Path) -> None:
    work = init_repo(tmp_path / "work")
    sha = commit(work, minimal_fleet())
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    assert load_revision(GitTreeSource(bare, "main")).revision == sha


def test_reads_a_subdirectory_as_the_fleet_root(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    fleet = {f"infra/fleet/{path}": text for path, text in minimal_fleet().items()}
    commit(repo, {**fleet, "README.md": "# not fleet", "other/x.yaml": "not: fleet"})
    desired = load_revision(GitTreeSource(repo, "HEAD", "infra/fleet/"))
    assert [str(d.location) for d in desired.deployments.values()] == ["clients/acme/hello.yaml:18:1"]


@pytest.mark.parametrize(
    ("rev", "subdir", "message"),
    [
        pytest.param("nope", "", "revision 'nope' does not exist in .*give a commit sha, branch or tag",
                     id="missing-rev"),
        pytest.param("HEAD", "missing", "folder 'missing' is not in commit [0-9a-f]{12}",
                     id="missing-subdir"),
        pytest.param("HEAD", "clients/acme/client.yaml", "is a file, not a folder",
                     id="subdir-is-a-file"),
    ],
)
def test_bad_rev_or_subdir_is_a_clear_error(tmp_path: Path, rev: str, subdir: str, message: str) -> None:
    repo = init_repo(tmp_path / "repo")
    commit(repo, minimal_fleet())
    with pytest.raises(ConfigError, match=message):
        GitTreeSource(repo, rev, subdir)


def test_a_folder_that_is_not_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a git repository"):
        GitTreeSource(tmp_path, "HEAD")


def test_dot_paths_and_non_yaml_files_are_not_fleet_files(tmp_path: Path) -> None:
    junk = {
        ".github/workflows/plan.yml": "on: push",
        ".gitlab-ci.yml": "stages: []",
        ".pre-commit-hooks.yaml": "- id: x",
        "clients/acme/.draft/x.yaml": "x: 1",
        "notes.txt": "kind: Package",
        "packages/README.md": "kind: Package",
    }
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, {**minimal_fleet(), **junk})
    for source in (GitTreeSource(repo, sha), DirectorySource(repo)):
        assert [f.path for f in source.files()] == ["clients/acme/client.yaml", "clients/acme/hello.yaml"]


def test_a_symbolic_link_is_a_problem_in_git_and_on_disk(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, minimal_fleet())
    os.symlink("hello.yaml", repo / "clients/acme/again.yaml")
    sha = commit(repo, {})
    for source in (GitTreeSource(repo, sha), DirectorySource(repo)):
        assert [str(p) for p in check_files(source)] == [
            "clients/acme/again.yaml:1:1: clients/acme/again.yaml is a symbolic link; git keeps only "
            "the link, not the file: commit the file itself"]


class RecordingSource:
    """A FileSource over in-memory files that records which ones were read."""

    revision = "recorded"

    def __init__(self, files: dict[str, bytes]) -> None:
        self._files = files
        self.read: list[str] = []

    def files(self) -> Iterator[SourceFile]:
        for path, data in sorted(self._files.items()):
            yield SourceFile(path=path, size=len(data), read=self._reader(path))

    def _reader(self, path: str) -> Callable[[], bytes]:
        def read() -> bytes:
            self.read.append(path)
            return self._files[path]
        return read


def test_an_oversized_file_is_rejected_without_reading_it() -> None:
    files = {path: text.encode() for path, text in minimal_fleet().items()}
    files["packages/big.yaml"] = b"#" * (1024 * 1024 + 1)
    source = RecordingSource(files)
    assert [str(p) for p in check_files(source)] == [
        "packages/big.yaml:1:1: file is 1048577 bytes, over the 1048576 byte limit; split it into "
        "several files"]
    assert source.read == ["clients/acme/client.yaml", "clients/acme/hello.yaml"]


def test_an_oversized_blob_is_rejected_from_git(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    big = package_yaml() + "# " + "x" * (1024 * 1024) + "\n"
    sha = commit(repo, {**minimal_fleet(), "packages/big.yaml": big})
    problems = [str(p) for p in check_files(GitTreeSource(repo, sha))]
    assert problems == [f"packages/big.yaml:1:1: file is {len(big)} bytes, over the 1048576 byte "
                        "limit; split it into several files"]


def test_a_directory_source_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        DirectorySource(tmp_path / "missing")


def test_a_parse_cache_reparses_only_changed_files_and_gives_the_same_result(tmp_path):
    from controller.loading import ParseCache

    repo = init_repo(tmp_path / "repo")
    first = commit(repo, minimal_fleet())
    second = commit(repo, {"clients/acme/more.yaml": package_yaml(name="more")})
    cache = ParseCache()
    assert load_revision(GitTreeSource(repo, first), cache) == load_revision(GitTreeSource(repo, first))
    assert (cache.hits, cache.misses) == (0, 2)
    cached = load_revision(GitTreeSource(repo, second), cache)
    assert (cache.hits, cache.misses) == (2, 3)
    assert cached == load_revision(GitTreeSource(repo, second))
