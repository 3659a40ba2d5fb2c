"""A real remote (a bare repository holding the writing fleet), a clone people push from, mirrors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.gitsource import RepoMirror
from controller.loading import GitTreeSource, load_revision
from tests.support.gitrepos import commit, git, init_repo
from tests.writing.fleet import fleet_files

STATUS_REF = "refs/heads/fleetward/status"


@dataclass
class Remote:
    bare: Path
    work: Path
    root: Path

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def push(self, files: dict[str, str | bytes | None], message: str = "by hand") -> str:
        """Someone commits ``files`` on main and pushes; the new sha."""
        git(self.work, "pull", "-q", "--ff-only", "origin", "main")
        sha = commit(self.work, files, message)
        git(self.work, "push", "-q", "origin", "HEAD:refs/heads/main")
        return sha

    def refs(self) -> dict[str, str]:
        """Every ref but the status branch, which a running controller pushes on its own schedule."""
        listing = git(self.bare, "for-each-ref", "--format=%(refname) %(objectname)")
        pairs = (line.split(" ") for line in listing.splitlines())
        return {name: sha for name, sha in pairs if name != STATUS_REF}

    def show(self, rev: str, path: str) -> str:
        return git(self.bare, "show", f"{rev}:{path}") + "\n"

    def tip(self, branch: str = "main") -> str:
        return git(self.bare, "rev-parse", f"refs/heads/{branch}")

    def mirror(self, name: str = "mirror") -> RepoMirror:
        made = RepoMirror(self.url, self.root / name / "repo.git", timeout=20)
        made.fetch()
        return made


def make_remote(root: Path, files: dict[str, str], subdir: str = "") -> Remote:
    work = init_repo(root / "work")
    prefix = f"{subdir}/" if subdir else ""
    commit(work, {f"{prefix}{path}": text for path, text in files.items()}, "the fleet")
    bare = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(work), str(bare))
    git(work, "remote", "add", "origin", str(bare))
    git(work, "fetch", "-q", "origin")
    git(work, "branch", "-q", "--set-upstream-to=origin/main")
    remote = Remote(bare, work, root)
    load_revision(GitTreeSource(bare, "main", subdir))  # the fleet itself is valid
    return remote


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path, fleet_files())


@pytest.fixture
def mirror(remote: Remote) -> Iterator[RepoMirror]:
    made = remote.mirror()
    yield made
    made.close()
