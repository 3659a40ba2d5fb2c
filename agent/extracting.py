"""Writing checked archive members into a fresh folder, within caps.

:mod:`agent.archives` has already refused bad names and link targets one member
at a time. What needs the whole archive is decided here:

* nothing is written through a symlink: a member whose path passes through an
  earlier symlink member is refused (``a -> ..`` followed by ``a/x`` would
  otherwise land outside), and as a second guard every parent folder must still
  resolve inside the root on disk;
* a hard link must repeat a regular file extracted earlier;
* the member count and the bytes actually written (never the headers' claims)
  are capped, so a zip bomb stops at the cap;
* files are created with ``O_EXCL``/``O_NOFOLLOW`` and plain permissions
  (0644, or 0755 when executable): no set-uid bits, no owners, no devices.

:func:`unpack` extracts into a temp folder next to the destination and renames
it into place only when everything succeeded, so the destination is either
complete or absent.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from agent.archives import Member, Opener, open_members
from agent.errors import UnsafeArchive
from schemas.packages import ArchiveFormat

CHUNK_BYTES = 256 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


@dataclass
class ExtractSummary:
    files: int = 0
    dirs: int = 0
    links: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class Caps:
    max_members: int
    max_bytes: int


class _Writer:
    def __init__(self, root: Path, caps: Caps, where: str) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.caps = caps
        self.where = where
        self.summary = ExtractSummary()
        self.members = 0
        self.symlinks: set[str] = set()
        self.files: set[str] = set()

    def write(self, member: Member, opener: Opener) -> None:
        self.members += 1
        if self.members > self.caps.max_members:
            raise UnsafeArchive(f"{self.where}: more than {self.caps.max_members} members",
                                hint="the archive exceeds the agent's member cap (an archive bomb?)")
        self._refuse_symlink_ancestors(member.name)
        path = self.root / member.name
        self._make_parents(member.name)
        if member.kind == "dir":
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                raise UnsafeArchive(f"{self.where}: directory {member.name!r} clashes with an earlier member")
            path.mkdir(mode=0o755, exist_ok=True)
            self.summary.dirs += 1
        elif member.kind == "file":
            self._write_file(member, path, opener)
        elif member.kind == "symlink":
            self._clear_for(member, path)
            path.symlink_to(member.target)
            self.symlinks.add(member.name)
            self.summary.links += 1
        else:
            self._hard_link(member, path)

    def _refuse_symlink_ancestors(self, name: str) -> None:
        if name in self.symlinks:
            raise UnsafeArchive(f"{self.where}: member {name!r} would overwrite a symlink")
        parts = name.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in self.symlinks:
                raise UnsafeArchive(f"{self.where}: member {name!r} goes through the symlink {prefix!r}")

    def _make_parents(self, name: str) -> None:
        parent = (self.root / name).parent
        parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        real = parent.resolve()
        if real != self.real_root and self.real_root not in real.parents:
            raise UnsafeArchive(f"{self.where}: member {name!r} resolves outside the package folder")

    def _clear_for(self, member: Member, path: Path) -> None:
        """A later member of the same name replaces a file (as tar does); anything else is refused."""
        if path.is_symlink():
            raise UnsafeArchive(f"{self.where}: member {member.name!r} would overwrite a symlink")
        if path.is_dir():
            raise UnsafeArchive(f"{self.where}: member {member.name!r} would replace a directory")
        if path.exists():
            path.unlink()
            self.files.discard(member.name)

    def _write_file(self, member: Member, path: Path, opener: Opener) -> None:
        self._clear_for(member, path)
        mode = 0o755 if member.executable else 0o644
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, mode)
        with os.fdopen(descriptor, "wb") as out, opener() as source:
            while chunk := source.read(CHUNK_BYTES):
                self.summary.bytes += len(chunk)
                if self.summary.bytes > self.caps.max_bytes:
                    raise UnsafeArchive(
                        f"{self.where}: unpacks to more than {self.caps.max_bytes} bytes; stopped",
                        hint="the archive exceeds the agent's size cap (an archive bomb?)",
                    )
                out.write(chunk)
        self.files.add(member.name)
        self.summary.files += 1

    def _hard_link(self, member: Member, path: Path) -> None:
        if member.target not in self.files:
            raise UnsafeArchive(f"{self.where}: hard link {member.name!r} -> {member.target!r} does not "
                                "repeat a regular file extracted before it")
        self._clear_for(member, path)
        source = self.root / member.target
        try:
            os.link(source, path)
        except OSError:
            shutil.copy2(source, path, follow_symlinks=False)  # file systems without hard links
        self.files.add(member.name)
        self.summary.links += 1


def extract_into(archive: Path, fmt: ArchiveFormat, root: Path, caps: Caps) -> ExtractSummary:
    """Extract every member into the existing empty folder ``root``."""
    writer = _Writer(root, caps, archive.name)
    with open_members(archive, fmt) as members:
        for member, opener in members:
            writer.write(member, opener)
    return writer.summary


def unpack(archive: Path, fmt: ArchiveFormat, destination: Path, caps: Caps) -> ExtractSummary:
    """Extract next to ``destination`` (which must not exist) and rename into place when complete."""
    if destination.exists() or destination.is_symlink():
        raise FileExistsError(f"{destination} already exists")
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.parent / f".{destination.name}.partial-{secrets.token_hex(4)}"
    temp.mkdir(mode=0o755)
    try:
        summary = extract_into(archive, fmt, temp, caps)
        temp.replace(destination)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return summary
