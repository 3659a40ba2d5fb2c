"""The commit a write builds on, read straight from the mirror's objects, and that commit with
the write's files laid over it, as a :class:`~controller.loading.FileSource` to validate.

No checkout is made: the base is read blob by blob, and the edited tree exists only as
``{path: bytes}`` until it is validated and committed. Paths here are relative to the
fleet root; :meth:`BaseTree.repo_path` adds the ``--path`` folder for git.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

import git

from controller.gitsource import RepoMirror
from controller.loading import FileSource, GitTreeSource, SourceFile
from controller.loading.sources import is_fleet_file
from schemas.limits import MAX_YAML_FILE_BYTES


@dataclass(frozen=True)
class Entry:
    """A file of the base commit: its git mode (``100644``, ``100755``, ``120000``) and size."""

    mode: str
    size: int


class BaseTree:
    """Commit ``sha`` of the mirror, under the fleet folder ``subdir``."""

    def __init__(self, mirror: RepoMirror, sha: str, subdir: str = "") -> None:
        self.mirror = mirror
        self.sha = sha
        self.subdir = subdir.strip("/")

    def repo_path(self, path: str) -> str:
        return f"{self.subdir}/{path}" if self.subdir else path

    def _item(self, path: str) -> git.Blob | git.Tree | None:
        # Hold the mirror's lock while GitPython talks to its cat-file helpers: sizes and
        # contents are read lazily, through the mirror's one (not thread-safe) Repo.
        try:
            found = self.mirror.repo.commit(self.sha).tree / self.repo_path(path)
        except KeyError:
            return None
        return found if isinstance(found, git.Blob | git.Tree) else None

    def exists(self, path: str) -> bool:
        """Whether anything (a file or a folder) is at ``path``."""
        with self.mirror.lock:
            return self._item(path) is not None

    def entry(self, path: str) -> Entry | None:
        """Mode and size of the file at ``path``; None when nothing or a folder is there."""
        with self.mirror.lock:
            item = self._item(path)
            if not isinstance(item, git.Blob):
                return None
            return Entry(f"{item.mode:o}", int(item.size))

    def read(self, path: str, limit: int = MAX_YAML_FILE_BYTES) -> bytes | None:
        """The file's bytes; None when it is missing, a folder, a link, or larger than ``limit``."""
        with self.mirror.lock:
            item = self._item(path)
            if not isinstance(item, git.Blob) or item.mode == git.Blob.link_mode or item.size > limit:
                return None
            data: bytes = item.data_stream.read()
            return data

    def source(self) -> GitTreeSource:
        """Every fleet file of the base, as the loader reads a revision."""
        return GitTreeSource(self.mirror.path, self.sha, self.subdir)


class OverlaySource:
    """``base`` with ``changes`` written over it (new files added, changed ones replaced).

    Files come out in path order, as :class:`~controller.loading.GitTreeSource` gives them,
    so a problem list reads the same as the controller's own for the committed revision.
    """

    def __init__(self, base: FileSource, changes: Mapping[str, bytes], revision: str = "the edited tree") -> None:
        self._base = base
        self._changes = {path: content for path, content in changes.items() if is_fleet_file(path)}
        self._other_changes = {path: content for path, content in changes.items() if not is_fleet_file(path)}
        self._revision = revision

    @property
    def revision(self) -> str:
        return self._revision

    def files(self) -> Iterator[SourceFile]:
        pending = sorted(self._changes.items())
        for file in self._base.files():  # a generator: its blobs are read while it runs
            while pending and pending[0][0] < file.path:
                yield _changed(*pending.pop(0))
            if pending and pending[0][0] == file.path:
                yield _changed(*pending.pop(0))
                continue
            yield file
        for path, content in pending:
            yield _changed(path, content)


    def files_named(self, paths: Collection[str]) -> Iterator[SourceFile]:
        wanted = set(paths)
        pending = sorted((path, content) for path, content in {**self._changes, **self._other_changes}.items()
                         if path in wanted)
        for file in self._base.files_named(wanted - {path for path, _ in pending}):  # read while it runs
            while pending and pending[0][0] < file.path:
                yield _changed(*pending.pop(0))
            yield file
        for path, content in pending:
            yield _changed(path, content)


def _changed(path: str, content: bytes) -> SourceFile:
    return SourceFile(path=path, size=len(content), read=lambda: content)
