"""Reading tar and zip archives as one neutral stream of checked members.

Each format's quirks stay here; :mod:`agent.extracting` sees only
:class:`Member` records and writes them. Everything that can be judged from a
single member is judged here, before any byte reaches the disk:

* names are relative POSIX paths: no leading ``/``, no drive letter, no ``..``
  component, no backslash (a separator on Windows, so ambiguous), no NUL;
* symlink targets are relative and stay inside the archive root when resolved
  from the link's own folder;
* hard-link targets are member names obeying the name rules;
* devices, fifos, encrypted zip members and unknown member types are refused.

Python's tarfile extraction filters are deliberately not used: Debian 12's
Python 3.11.2 predates them, and the checks must hold on every supported Python.
"""

from __future__ import annotations

import contextlib
import lzma
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from agent.errors import UnsafeArchive
from schemas.packages import ArchiveFormat

MemberKind = Literal["file", "dir", "symlink", "hardlink"]
_MAGIC: tuple[tuple[bytes, ArchiveFormat], ...] = (
    (b"\x1f\x8b", "tar.gz"), (b"\xfd7zXZ\x00", "tar.xz"), (b"BZh", "tar.bz2"), (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"))


def sniff_format(path: Path) -> ArchiveFormat:
    """The format of an archive file from its first bytes (a plain tar has no magic at the start).

    For a cached artifact whose Package is no longer at hand, such as the previous version a
    failed upgrade rolls back to; a file that is none of these fails later, in the tar reader."""
    with path.open("rb") as file:
        head = file.read(8)
    return next((fmt for magic, fmt in _MAGIC if head.startswith(magic)), "tar")
MAX_SYMLINK_TARGET_CHARS = 4096

_DRIVE = re.compile(r"^[A-Za-z]:")
_TAR_MODES: dict[ArchiveFormat, Literal["r:", "r:gz", "r:xz", "r:bz2"]] = {
    "tar": "r:", "tar.gz": "r:gz", "tar.xz": "r:xz", "tar.bz2": "r:bz2",
}


@dataclass(frozen=True)
class Member:
    name: str
    """Normalised relative POSIX path: components joined by '/', no '.', '..' or empty parts."""
    kind: MemberKind
    size: int = 0
    executable: bool = False
    target: str = ""
    """Symlink: the target as written (relative). Hard link: the normalised member name it repeats."""


Opener = Callable[[], IO[bytes]]


def safe_name(raw: str, *, where: str) -> str:
    """The normalised relative path of a member name, or UnsafeArchive saying why not."""
    if "\x00" in raw:
        raise UnsafeArchive(f"{where}: member name contains a NUL byte")
    if "\\" in raw:
        raise UnsafeArchive(f"{where}: member {raw!r} contains a backslash (ambiguous path separator)")
    if raw.startswith("/") or _DRIVE.match(raw):
        raise UnsafeArchive(f"{where}: member {raw!r} has an absolute path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"{where}: member {raw!r} has a '..' component")
    return "/".join(parts)


def check_symlink_target(name: str, target: str, *, where: str) -> None:
    if not target or len(target) > MAX_SYMLINK_TARGET_CHARS or "\x00" in target or "\\" in target:
        raise UnsafeArchive(f"{where}: symlink {name!r} has an unusable target")
    if target.startswith("/") or _DRIVE.match(target):
        raise UnsafeArchive(f"{where}: symlink {name!r} points to the absolute path {target!r}")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchive(f"{where}: symlink {name!r} -> {target!r} points outside the package folder")


@contextlib.contextmanager
def open_members(path: Path, fmt: ArchiveFormat) -> Iterator[Iterator[tuple[Member, Opener]]]:
    """Members of the archive in order; the opener reads a file member's content.

    Decoding errors surface while the caller iterates, inside its ``with`` block;
    they are turned into UnsafeArchive here (OSErrors with an errno, such as a full
    disk, pass through unchanged).
    """
    where = path.name
    try:
        if fmt == "zip":
            with zipfile.ZipFile(path) as archive:
                yield _zip_members(archive, where)
        else:
            with tarfile.open(path, _TAR_MODES[fmt]) as tar:
                yield _tar_members(tar, where)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and not _is_format_error(exc):
            raise
        raise UnsafeArchive(f"{where}: not a readable {fmt} archive ({exc})",
                            hint="check the Package's format and that the file is not corrupt") from None


def _is_format_error(exc: OSError) -> bool:
    # gzip.BadGzipFile, lzma.LZMAError and bz2's "Invalid data stream" are OSErrors without errno.
    return exc.errno is None


def _tar_members(tar: tarfile.TarFile, where: str) -> Iterator[tuple[Member, Opener]]:
    for info in tar:
        name = safe_name(info.name, where=where)
        if info.ischr() or info.isblk() or info.isfifo():
            raise UnsafeArchive(f"{where}: member {info.name!r} is a device or fifo")
        if not name:
            if info.isdir():
                continue  # "./" itself
            raise UnsafeArchive(f"{where}: a non-directory member has an empty name")
        executable = bool(info.mode & 0o111)
        if info.isdir():
            yield Member(name, "dir"), _no_content
        elif info.issym():
            check_symlink_target(name, info.linkname, where=where)
            yield Member(name, "symlink", target=info.linkname), _no_content
        elif info.islnk():
            target = safe_name(info.linkname, where=where)
            if not target:
                raise UnsafeArchive(f"{where}: hard link {info.name!r} has an empty target")
            yield Member(name, "hardlink", target=target), _no_content
        elif info.isreg():
            yield Member(name, "file", size=info.size, executable=executable), _tar_opener(tar, info)
        else:
            raise UnsafeArchive(f"{where}: member {info.name!r} has an unsupported type {info.type!r}")


def _tar_opener(tar: tarfile.TarFile, info: tarfile.TarInfo) -> Opener:
    def opener() -> IO[bytes]:
        handle = tar.extractfile(info)
        assert handle is not None  # regular members always have content
        return handle

    return opener


def _zip_members(archive: zipfile.ZipFile, where: str) -> Iterator[tuple[Member, Opener]]:
    for info in archive.infolist():
        name = safe_name(info.filename, where=where)
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"{where}: member {info.filename!r} is encrypted")
        unix_mode = info.external_attr >> 16
        file_type = stat.S_IFMT(unix_mode)
        if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
            raise UnsafeArchive(f"{where}: member {info.filename!r} is a device, fifo or socket")
        if not name:
            if info.is_dir():
                continue
            raise UnsafeArchive(f"{where}: a non-directory member has an empty name")
        if info.is_dir():
            yield Member(name, "dir"), _no_content
        elif file_type == stat.S_IFLNK:
            if info.file_size > MAX_SYMLINK_TARGET_CHARS:
                raise UnsafeArchive(f"{where}: symlink {info.filename!r} has an oversized target")
            target = archive.read(info).decode("utf-8", "replace")
            check_symlink_target(name, target, where=where)
            yield Member(name, "symlink", target=target), _no_content
        else:
            executable = bool(unix_mode & 0o111)
            yield (Member(name, "file", size=info.file_size, executable=executable),
                   _zip_opener(archive, info))


def _zip_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Opener:
    def opener() -> IO[bytes]:
        return archive.open(info)

    return opener


def _no_content() -> IO[bytes]:
    raise AssertionError("only file members have content")
