"""Build a commit from a base commit and a few changed files, with git plumbing and no checkout.

A throw-away index (``GIT_INDEX_FILE``) is filled from the base tree (``git read-tree``),
the changed files' blobs are written and laid over it (``git update-index --index-info``),
and ``git write-tree`` + ``git commit-tree`` make the commit. Every other path keeps the
base's blob and mode, so the commit's diff is exactly the changed files. No ref moves
here: the commit is pushed by its sha (:mod:`~controller.writing.pushing`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from controller.errors import TemporaryError
from controller.gitsource.committing import git_with_input, write_blobs
from controller.gitsource.running import LOCAL_TIMEOUT, GitResult, failure, run_git
from controller.writing.trees import BaseTree

REGULAR = "100644"
EXECUTABLE = "100755"
_UNSAFE_PERSON = str.maketrans({"<": "", ">": "", "\n": " ", "\r": " ", "\0": ""})
MAX_PERSON_CHARS = 200


@dataclass(frozen=True)
class Person:
    """A commit's author or committer."""

    name: str
    email: str

    def env(self, role: str, when: datetime) -> dict[str, str]:
        """``GIT_<ROLE>_NAME``/``_EMAIL``/``_DATE``; names are cleaned of what git cannot store."""
        name = self.name.translate(_UNSAFE_PERSON).strip()[:MAX_PERSON_CHARS] or "unnamed"
        email = self.email.translate(_UNSAFE_PERSON).strip()[:MAX_PERSON_CHARS]
        return {f"GIT_{role}_NAME": name, f"GIT_{role}_EMAIL": email,
                f"GIT_{role}_DATE": f"{int(when.timestamp())} +0000"}


def build_commit(base: BaseTree, changes: Mapping[str, bytes], message: str, *, author: Person,
                 committer: Person, when: datetime) -> str | None:
    """A commit whose parent is ``base.sha`` and whose tree is the base with ``changes``
    (paths relative to the fleet root) written over it; None when that tree is the base's own.

    TemporaryError when git fails locally (disk full, a path that is a folder in the base).
    """
    mirror = base.mirror
    with mirror.lock, tempfile.TemporaryDirectory(prefix="fleetward-write-") as scratch:
        folder = Path(scratch)
        index = {"GIT_INDEX_FILE": str(folder / "index")}
        result = run_git(mirror.repo, ["read-tree", base.sha], timeout=LOCAL_TIMEOUT, env=index)
        _check(result, f"reading commit {base.sha[:12]}")
        paths = sorted(changes)
        blobs = write_blobs(base.mirror, folder, [changes[path] for path in paths])
        listing = "".join(f"{_mode(base, path)} {blob}\t{base.repo_path(path)}\0"
                          for path, blob in zip(paths, blobs, strict=True))
        result = git_with_input(base.mirror, ["update-index", "-z", "--index-info"], listing.encode(), env=index)
        _check(result, "laying the changed files over the base")
        result = run_git(mirror.repo, ["write-tree"], timeout=LOCAL_TIMEOUT, env=index)
        _check(result, "writing the tree")
        tree = result.stdout.strip()
        result = run_git(mirror.repo, ["rev-parse", "--verify", f"{base.sha}^{{tree}}"], timeout=LOCAL_TIMEOUT)
        _check(result, f"reading the tree of {base.sha[:12]}")
        if tree == result.stdout.strip():
            return None
        people = {**author.env("AUTHOR", when), **committer.env("COMMITTER", when)}
        result = run_git(mirror.repo, ["commit-tree", tree, "-p", base.sha, "-m", message],
                         timeout=LOCAL_TIMEOUT, env=people)
        _check(result, "committing")
        return result.stdout.strip()


def _mode(base: BaseTree, path: str) -> str:
    entry = base.entry(path)
    return EXECUTABLE if entry is not None and entry.mode == EXECUTABLE else REGULAR


def _check(result: GitResult, action: str) -> None:
    if not result.ok:
        raise TemporaryError(failure(result, action, LOCAL_TIMEOUT))
