"""Where a revision's files come from: git objects of a commit, or a working directory.

:class:`GitTreeSource` reads blobs straight from the object store (no checkout), so a
revision can be loaded while the working tree changes, and from a bare mirror. Only
``*.yaml``/``*.yml`` files count, and nothing under a path component that starts with
a dot (``.github/``, ``.gitlab-ci.yml``, ``.fleetward/`` are not fleet resources).
Sizes are known before content is read, so oversized files are never loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import git
from gitdb.exc import BadName, BadObject

from controller.errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SourceFile:
    path: str
    """POSIX path relative to the fleet root."""
    size: int
    read: Callable[[], bytes]


class FileSource(Protocol):
    revision: str

    def files(self) -> Iterator[SourceFile]: ...


def is_fleet_file(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return (
        bool(parts)
        and relative.endswith(YAML_SUFFIXES)
        and not any(part.startswith(".") for part in parts)
    )


class GitTreeSource:
    """The fleet files of commit ``rev`` (a sha, branch or tag), under ``subdir``."""

    def __init__(self, repo_path: Path | str, rev: str, subdir: str = "") -> None:
        try:
            self._repo = git.Repo(str(repo_path))
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise ConfigError(f"{repo_path} is not a git repository",
                              hint="point at a clone or run 'fleetward init'") from None
        try:
            self._commit = self._repo.commit(rev)
        except (BadName, BadObject, ValueError, git.BadName):
            raise ConfigError(f"revision {rev!r} does not exist in {repo_path}",
                              hint="give a commit sha, branch or tag that exists") from None
        self.revision: str = self._commit.hexsha
        self._subdir = subdir.strip("/")
        tree = self._commit.tree
        if self._subdir:
            try:
                found = tree / self._subdir
            except KeyError:
                raise ConfigError(f"folder {self._subdir!r} is not in commit {self.revision[:12]}",
                                  hint="check --path") from None
            if found.type != "tree":
                raise ConfigError(f"{self._subdir!r} is a file, not a folder, in commit "
                                  f"{self.revision[:12]}", hint="check --path")
            tree = found
        self._tree = tree

    def files(self) -> Iterator[SourceFile]:
        prefix = len(self._subdir) + 1 if self._subdir else 0
        blobs = [item for item in self._tree.traverse() if isinstance(item, git.Blob)]
        for blob in sorted(blobs, key=lambda b: str(b.path)):
            relative = str(blob.path)[prefix:]
            if not is_fleet_file(relative):
                continue
            yield SourceFile(path=relative, size=blob.size, read=_blob_reader(blob))


def _blob_reader(blob: git.Blob) -> Callable[[], bytes]:
    def read() -> bytes:
        data: bytes = blob.data_stream.read()
        return data
    return read


class DirectorySource:
    """The fleet files of a working directory, uncommitted edits included."""

    revision = "working-tree"

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"{root} is not a folder", hint="give the fleet repository's folder")
        self._root = root

    def files(self) -> Iterator[SourceFile]:
        found: list[Path] = []
        for folder, dirs, names in os.walk(self._root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # never walk .git and friends
            found.extend(Path(folder) / name for name in names)
        for path in sorted(found):
            relative = path.relative_to(self._root).as_posix()
            if not is_fleet_file(relative) or not path.is_file():
                continue
            yield SourceFile(path=relative, size=path.stat().st_size, read=path.read_bytes)
