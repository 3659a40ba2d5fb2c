"""A .deb's control fields read in-process, without starting ``dpkg-deb -f``.

A binary package (deb(5)) is an ``ar`` archive: the magic ``!<arch>\\n``, then members, each
behind a 60-byte header (name 16 bytes, modification time 12, owner 6, group 6, mode 8, size 10 in
decimal, then the two bytes ``\\x60\\n``) and padded to an even length. The first member is
``debian-binary`` (``2.0\\n``); members whose name starts with ``_`` may follow and are skipped, as
dpkg-deb skips them; then ``control.tar``, uncompressed or ``.gz``, ``.xz`` or ``.zst``; then
``data.tar``, which is never read here. The fields are the ``control`` file of that tar (named
``./control`` by dpkg-deb), one deb822 stanza (:mod:`.debstanzas`).

Reading a few hundred bytes this way costs about 0.2 ms here; starting ``dpkg-deb -f`` costs 6-9
ms, which mattered on the agent's path to ``dpkg -i`` (bench/README.md, "Agent install overhead").
Only the common case is read: anything else raises
:class:`~.debstanzas.Unreadable` and :mod:`.debtool` asks ``dpkg-deb -f``, which reads every
format dpkg does (and keeps apt-get when that fails too). That covers the old ``0.93`` format,
``control.tar.zst`` (Python 3.11 has no zstd decompressor), an unknown member where
``control.tar`` belongs, a truncated file or member, a malformed header, trailing data after the
compressed stream, a ``control`` that is missing, given twice or not a regular file, and a control
file that is not plain deb822. Every size is capped before anything is read or decompressed, and so is
the xz decoder's memory: a hostile artifact costs a few tens of megabytes at most.
"""

from __future__ import annotations

import io
import lzma
import re
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

from agent.installers.debstanzas import Unreadable, parse_stanza

AR_MAGIC = b"!<arch>\n"
AR_HEADER_SIZE = 60
MAX_FORMAT_MEMBER = 64
"""``debian-binary`` holds ``2.0\\n``."""
MAX_SKIPPED_MEMBERS = 16
MAX_CONTROL_MEMBER = 4 * 1024 * 1024
"""The compressed ``control.tar`` as stored in the .deb: maintainer scripts and md5sums, usually a few KB."""
MAX_CONTROL_TAR = 16 * 1024 * 1024
"""The decompressed ``control.tar``."""
MAX_XZ_MEMORY = 32 * 1024 * 1024
"""What the xz decoder may allocate (its dictionary: 8 MiB at xz's default preset, 64 MiB at ``-9``)."""
MAX_CONTROL_FILE = 256 * 1024
"""The ``control`` file itself: a few hundred bytes to a few KB."""
_FORMAT = re.compile(rb"2\.[0-9]+\n")
_CONTROL_MEMBERS = {"control.tar": "", "control.tar.gz": "gz", "control.tar.xz": "xz"}


def read_control(path: Path) -> dict[str, str]:
    """Every field of the .deb's control file, keyed by lower-cased name (see :func:`.parse_stanza`).

    Raises :class:`~.debstanzas.Unreadable`, saying what, for anything outside the common form.
    """
    try:
        with path.open("rb") as deb:
            if deb.read(len(AR_MAGIC)) != AR_MAGIC:
                raise Unreadable("not an ar archive")
            name, size = _member_header(deb)
            if name != "debian-binary" or not _FORMAT.fullmatch(_member_data(deb, name, size, MAX_FORMAT_MEMBER)):
                raise Unreadable("no debian-binary member saying format 2.x")
            name, size = _member_header(deb)
            skipped = 0
            while name.startswith("_") and skipped < MAX_SKIPPED_MEMBERS:
                deb.seek(size + size % 2, io.SEEK_CUR)
                name, size = _member_header(deb)
                skipped += 1
            if name == "control.tar.zst":
                raise Unreadable("control.tar.zst (Python 3.11 cannot decompress zstd)")
            if name not in _CONTROL_MEMBERS:
                raise Unreadable(f"the member {name!r} where control.tar(.gz|.xz) belongs")
            data = _member_data(deb, name, size, MAX_CONTROL_MEMBER)
    except OSError as exc:
        raise Unreadable(f"cannot read the file: {exc.strerror or exc}") from None
    return parse_stanza(_control_file(_decompress(data, _CONTROL_MEMBERS[name])))


def _member_header(deb: BinaryIO) -> tuple[str, int]:
    """The name (trailing spaces and a GNU-style ``/`` removed, as dpkg does) and size of the next member."""
    header = deb.read(AR_HEADER_SIZE)
    if len(header) != AR_HEADER_SIZE:
        raise Unreadable("truncated: the file ends inside or before an ar member header")
    size = header[48:58].strip(b" ")
    if header[58:60] != b"`\n" or not size.isdigit():
        raise Unreadable("a malformed ar member header")
    try:
        name = header[:16].rstrip(b" ").removesuffix(b"/").decode("ascii")
    except UnicodeDecodeError:
        raise Unreadable("a malformed ar member name") from None
    return name, int(size)


def _member_data(deb: BinaryIO, name: str, size: int, cap: int) -> bytes:
    if size > cap:
        raise Unreadable(f"{name} is larger than {cap} bytes")
    data = deb.read(size)
    if len(data) != size:
        raise Unreadable(f"truncated: the file ends inside {name}")
    return data


def _decompress(data: bytes, compression: str) -> bytes:
    """The whole ``control.tar``, at most :data:`MAX_CONTROL_TAR` bytes of it, from one complete stream."""
    if not compression:
        return data
    try:
        if compression == "gz":
            gunzip = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # gzip framing only
            tar = gunzip.decompress(data, MAX_CONTROL_TAR + 1)
            complete, rest = gunzip.eof, gunzip.unused_data
        else:
            unxz = lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=MAX_XZ_MEMORY)
            tar = unxz.decompress(data, max_length=MAX_CONTROL_TAR + 1)
            complete, rest = unxz.eof, unxz.unused_data
    except (zlib.error, lzma.LZMAError) as exc:
        raise Unreadable(f"control.tar.{compression} does not decompress: {exc}") from None
    if len(tar) > MAX_CONTROL_TAR:
        raise Unreadable(f"control.tar.{compression} decompresses to more than {MAX_CONTROL_TAR} bytes")
    if not complete:
        raise Unreadable(f"control.tar.{compression} is truncated")
    if rest:
        raise Unreadable(f"data after the compressed stream in control.tar.{compression}")
    return tar


def _control_file(tar_bytes: bytes) -> str:
    """The text of the one ``control`` (or ``./control``) regular file in the control tar."""
    found: bytes | None = None
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            for member in tar:
                if member.name.removeprefix("./") != "control":
                    continue
                if found is not None:
                    raise Unreadable("two control files in control.tar")
                if not member.isreg() or member.size > MAX_CONTROL_FILE:
                    raise Unreadable(f"control is not a regular file of at most {MAX_CONTROL_FILE} bytes")
                extracted = tar.extractfile(member)
                found = extracted.read() if extracted is not None else b""
    except tarfile.TarError as exc:
        raise Unreadable(f"control.tar is not a readable tar: {exc}") from None
    if found is None:
        raise Unreadable("no control file in control.tar")
    try:
        return found.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("the control file is not UTF-8") from None
