"""A real "remote": a bare repository with a ``main`` branch, and a working clone that pushes to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.gitsource import RepoMirror
from tests.support.gitrepos import commit, git, init_repo


@dataclass
class Remote:
    bare: Path
    work: Path
    root: Path

    def push(self, files: dict[str, str | bytes | None], message: str = "change",
             branch: str = "main") -> str:
        """Commit ``files`` on ``branch`` in the working clone and push it; the new sha."""
        git(self.work, "checkout", "-q", "-B", branch, f"origin/{branch}" if self.has(branch) else "HEAD")
        sha = commit(self.work, files, message)
        git(self.work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return sha

    def has(self, branch: str) -> bool:
        git(self.work, "fetch", "-q", "origin")
        return bool(git(self.work, "branch", "-r", "--list", f"origin/{branch}"))

    def clone(self, name: str) -> Path:
        """Another working clone (a second replica, a human)."""
        path = self.root / name
        git(self.root, "clone", "-q", str(self.bare), str(path))
        return path


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    bare = init_repo(tmp_path / "remote.git", bare=True)
    work = init_repo(tmp_path / "work")
    git(work, "remote", "add", "origin", str(bare))
    commit(work, {"fleet.yaml": "apiVersion: fleetward/v1\n"}, "first")
    git(work, "push", "-q", "origin", "main")
    return Remote(bare, work, tmp_path)


@pytest.fixture
def mirror(remote: Remote, tmp_path: Path) -> Iterator[RepoMirror]:
    made = RepoMirror(str(remote.bare), tmp_path / "data" / "repo.git", protected={"main"}, timeout=10)
    yield made
    made.close()
