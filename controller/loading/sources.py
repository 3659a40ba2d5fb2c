"""Where a revision's files come from: git objects of a commit, or a working directory.

:class:`GitTreeSource` reads blobs straight from the object store (no checkout), so a
revision can be loaded while the working tree changes, and from a bare mirror. Only
``*.yaml``/``*.yml`` files count, and nothing under a path component that starts with
a dot (``.github/``, ``.gitlab-ci.yml``, ``.pre-commit-hooks.yaml`` are not fleet
resources). Sizes are known before content is read, so oversized files are never loaded.
Both sources list files in the same order (by POSIX path) and both flag symbolic links,
so ``fleetward validate DIR`` judges a working tree the way the controller will judge the
commit made from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import git
from gitdb.exc import BadName, BadObject

from controller.errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SourceFile:
    """One candidate file: ``path`` is POSIX and relative to the fleet root."""

    path: str
    size: int
    """Bytes; known without reading, so callers check it before :attr:`read`."""
    read: Callable[[], bytes]
    symlink: bool = False
    """Git stores a symbolic link as the link itself, never the file it points at."""
    blob: str | None = None
    """The git blob id when the content comes from git: same id, same content (for caching)."""


class FileSource(Protocol):
    """The files of one revision; ``revision`` names it in problems and status."""

    @property
    def revision(self) -> str: ...

    def files(self) -> Iterator[SourceFile]: ...

    def files_named(self, paths: Collection[str]) -> Iterator[SourceFile]:
        """The files at ``paths`` (of any type, such as script files), in path order.

        A path where there is no file (nothing, or a folder) is skipped. As with
        :meth:`files`, each file's ``read`` works while the iterator runs.
        """
        ...


def is_fleet_file(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return (
        bool(parts)
        and relative.endswith(YAML_SUFFIXES)
        and not any(part.startswith(".") for part in parts)
    )


class GitTreeSource:
    """The fleet files of commit ``rev`` (a sha, branch or tag), under ``subdir``.

    ``revision`` is the commit's full sha. The repository is opened again for each
    :meth:`files` pass and closed after it, so no ``git cat-file`` process outlives a load.
    """

    def __init__(self, repo_path: Path | str, rev: str, subdir: str = "") -> None:
        self._repo_path = str(repo_path)
        self._subdir = subdir.strip("/")
        with self._open() as repo:
            try:
                commit = repo.commit(rev)
            except (BadName, BadObject, ValueError, git.BadName):
                raise ConfigError(f"revision {rev!r} does not exist in {repo_path}",
                                  hint="give a commit sha, branch or tag that exists") from None
            self._revision: str = commit.hexsha
            self._tree(commit)  # fail now, not halfway through a load

    @property
    def revision(self) -> str:
        return self._revision

    def _open(self) -> git.Repo:
        try:
            return git.Repo(self._repo_path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise ConfigError(f"{self._repo_path} is not a git repository",
                              hint="point at a clone or run 'fleetward init'") from None

    def _tree(self, commit: git.Commit) -> git.Tree:
        tree = commit.tree
        if not self._subdir:
            return tree
        try:
            found = tree / self._subdir
        except KeyError:
            raise ConfigError(f"folder {self._subdir!r} is not in commit {self._revision[:12]}",
                              hint="check the fleet folder (--path) against the repository") from None
        if not isinstance(found, git.Tree):
            raise ConfigError(f"{self._subdir!r} is a file, not a folder, in commit "
                              f"{self._revision[:12]}", hint="check the fleet folder (--path)")
        return found

    def files(self) -> Iterator[SourceFile]:
        prefix = len(self._subdir) + 1 if self._subdir else 0
        with self._open() as repo:
            tree = self._tree(repo.commit(self._revision))
            blobs = [item for item in tree.traverse() if isinstance(item, git.Blob)]
            for blob in sorted(blobs, key=lambda b: str(b.path)):
                relative = str(blob.path)[prefix:]
                if is_fleet_file(relative):
                    yield SourceFile(path=relative, size=blob.size, read=_blob_reader(blob), blob=blob.hexsha,
                                     symlink=blob.mode == git.Blob.link_mode)


    def files_named(self, paths: Collection[str]) -> Iterator[SourceFile]:
        with self._open() as repo:
            tree = self._tree(repo.commit(self._revision))
            for path in sorted(set(paths)):
                try:
                    item = tree / path
                except KeyError:
                    continue
                if isinstance(item, git.Blob):
                    yield SourceFile(path=path, size=item.size, read=_blob_reader(item), blob=item.hexsha,
                                     symlink=item.mode == git.Blob.link_mode)


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
        found: list[tuple[str, Path]] = []
        for folder, dirs, names in os.walk(self._root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # never walk .git and friends
            for name in names:
                path = Path(folder) / name
                found.append((path.relative_to(self._root).as_posix(), path))
        for relative, path in sorted(found):
            if not is_fleet_file(relative):
                continue
            if path.is_symlink():
                yield SourceFile(path=relative, size=0, read=bytes, symlink=True)
            elif path.is_file():  # not a fifo or socket, which could block a read
                yield SourceFile(path=relative, size=path.stat().st_size, read=path.read_bytes)

    def files_named(self, paths: Collection[str]) -> Iterator[SourceFile]:
        for relative in sorted(set(paths)):
            parts = PurePosixPath(relative).parts
            if not parts or any(part in ("", ".", "..") for part in parts) or relative.startswith("/"):
                continue  # never a file outside the fleet folder
            path = self._root.joinpath(*parts)
            # A link anywhere on the way is what git would store as a link: flag it, never follow it.
            if any(self._root.joinpath(*parts[:depth]).is_symlink() for depth in range(1, len(parts) + 1)):
                yield SourceFile(path=relative, size=0, read=bytes, symlink=True)
            elif path.is_file():
                yield SourceFile(path=relative, size=path.stat().st_size, read=path.read_bytes)
