"""Safe extraction: every supported format unpacks; every trick to escape or exhaust is refused."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from agent.errors import UnsafeArchive
from agent.extracting import Caps, unpack
from tests.agent.builders import tar_file, tar_special, write_tar, write_zip

CAPS = Caps(max_members=1000, max_bytes=10 * 1024 * 1024)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "software" / "pkg" / "1.0.0"


def _leftovers(dest: Path) -> list[str]:
    """Anything in the package's parent folder besides a complete destination (temp dirs!)."""
    return sorted(path.name for path in dest.parent.iterdir()) if dest.parent.exists() else []


@pytest.mark.parametrize(
    ("fmt", "compression", "suffix"),
    [
        pytest.param("tar", "", ".tar", id="tar"),
        pytest.param("tar.gz", "gz", ".tar.gz", id="tar.gz"),
        pytest.param("tar.xz", "xz", ".tar.xz", id="tar.xz"),
        pytest.param("tar.bz2", "bz2", ".tar.bz2", id="tar.bz2"),
    ],
)
def test_tar_formats_unpack_with_links_and_modes(tmp_path: Path, dest: Path, fmt: str, compression: str,
                                                 suffix: str) -> None:
    archive = write_tar(tmp_path / f"a{suffix}", [
        tar_special("./", tarfile.DIRTYPE),
        tar_file("./bin/tool", b"#!/bin/sh\n", 0o4755),  # set-uid bit must not survive
        tar_file("docs/readme.txt", b"hello"),
        tar_special("docs/latest", tarfile.SYMTYPE, "readme.txt"),
        tar_special("docs/again.txt", tarfile.LNKTYPE, "docs/readme.txt"),
        tar_special("bin/up", tarfile.SYMTYPE, "../docs/readme.txt"),
    ], compression)
    summary = unpack(archive, fmt, dest, CAPS)  # type: ignore[arg-type]
    assert (dest / "docs" / "readme.txt").read_bytes() == b"hello"
    assert os.readlink(dest / "docs" / "latest") == "readme.txt"
    assert (dest / "docs" / "again.txt").read_bytes() == b"hello"
    assert (dest / "bin" / "up").read_bytes() == b"hello"
    assert stat.S_IMODE((dest / "bin" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "docs" / "readme.txt").stat().st_mode) == 0o644
    assert (summary.files, summary.links, summary.bytes) == (2, 3, len(b"#!/bin/sh\n") + 5)
    assert _leftovers(dest) == ["1.0.0"]


def test_zip_unpacks_with_symlinks_and_exec_bits(tmp_path: Path, dest: Path) -> None:
    archive = write_zip(tmp_path / "a.zip", [("bin/tool", b"#!/bin/sh\n"), ("readme.txt", b"hi")],
                        symlinks={"bin/readme": "../readme.txt"}, unix_modes={"bin/tool": 0o100755})
    unpack(archive, "zip", dest, CAPS)
    assert (dest / "bin" / "readme").read_bytes() == b"hi"
    assert os.access(dest / "bin" / "tool", os.X_OK)


def _tar(*members):
    return lambda path: write_tar(path, list(members))


MALICIOUS_TARS = [
    pytest.param(_tar(tar_file("/etc/evil", b"x")), "absolute path", id="absolute-path"),
    pytest.param(_tar(tar_file("../evil", b"x")), "'..' component", id="dot-dot"),
    pytest.param(_tar(tar_file("a/../../evil", b"x")), "'..' component", id="dot-dot-inside"),
    pytest.param(_tar(tar_file("C:/evil", b"x")), "absolute path", id="drive-letter"),
    pytest.param(_tar(tar_file("a\\..\\evil", b"x")), "backslash", id="backslash"),
    pytest.param(_tar(tar_special("link", tarfile.SYMTYPE, "/etc/passwd")), "absolute path",
                 id="symlink-absolute"),
    pytest.param(_tar(tar_special("a/link", tarfile.SYMTYPE, "../../outside")), "outside the package",
                 id="symlink-escaping"),
    pytest.param(_tar(tar_special("up", tarfile.SYMTYPE, "."), tar_special("up/x", tarfile.SYMTYPE, "../y")),
                 "goes through the symlink", id="write-through-symlink"),
    pytest.param(_tar(tar_special("sub", tarfile.DIRTYPE), tar_special("sub/l", tarfile.SYMTYPE, ".."),
                      tar_special("sub/l/m", tarfile.SYMTYPE, "../../escape")),
                 "goes through the symlink", id="symlink-chain-escape"),
    pytest.param(_tar(tar_special("link", tarfile.SYMTYPE, "target"), tar_file("link", b"x")),
                 "overwrite a symlink", id="file-over-symlink"),
    pytest.param(_tar(tar_special("hard", tarfile.LNKTYPE, "../../etc/passwd")), "'..' component",
                 id="hardlink-escaping"),
    pytest.param(_tar(tar_special("hard", tarfile.LNKTYPE, "/etc/passwd")), "absolute path",
                 id="hardlink-absolute"),
    pytest.param(_tar(tar_special("hard", tarfile.LNKTYPE, "not-extracted")), "does not repeat",
                 id="hardlink-to-nothing"),
    pytest.param(_tar(tar_special("l", tarfile.SYMTYPE, "x"), tar_special("hard", tarfile.LNKTYPE, "l")),
                 "does not repeat", id="hardlink-to-symlink"),
    pytest.param(_tar(tar_special("dev/sda", tarfile.BLKTYPE)), "device or fifo", id="block-device"),
    pytest.param(_tar(tar_special("dev/tty", tarfile.CHRTYPE)), "device or fifo", id="char-device"),
    pytest.param(_tar(tar_special("pipe", tarfile.FIFOTYPE)), "device or fifo", id="fifo"),
]


@pytest.mark.parametrize(("build", "message"), MALICIOUS_TARS)
def test_malicious_tars_are_refused_and_leave_nothing(tmp_path: Path, dest: Path, build,
                                                      message: str) -> None:
    archive = build(tmp_path / "evil.tar.gz")
    with pytest.raises(UnsafeArchive, match=message):
        unpack(archive, "tar.gz", dest, CAPS)
    assert _leftovers(dest) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "software" / "escape").exists()


@pytest.mark.parametrize(
    ("members", "symlinks", "modes", "message"),
    [
        pytest.param([("../evil", b"x")], {}, {}, "'..' component", id="zip-dot-dot"),
        pytest.param([("/abs/evil", b"x")], {}, {}, "absolute path", id="zip-absolute"),
        pytest.param([("a\\..\\..\\evil", b"x")], {}, {}, "backslash", id="zip-backslash"),
        pytest.param([], {"link": "../../outside"}, {}, "outside the package", id="zip-symlink-escaping"),
        pytest.param([("dev", b"")], {}, {"dev": 0o020644}, "device", id="zip-char-device"),
    ],
)
def test_malicious_zips_are_refused(tmp_path: Path, dest: Path, members, symlinks, modes,
                                    message: str) -> None:
    archive = write_zip(tmp_path / "evil.zip", members, symlinks=symlinks, unix_modes=modes)
    with pytest.raises(UnsafeArchive, match=message):
        unpack(archive, "zip", dest, CAPS)
    assert _leftovers(dest) == []


def test_a_zip_bomb_stops_at_the_byte_cap(tmp_path: Path, dest: Path) -> None:
    archive = write_zip(tmp_path / "bomb.zip", [(f"zeros{i}", bytes(4 * 1024 * 1024)) for i in range(4)])
    assert archive.stat().st_size < 100 * 1024  # 16 MiB squeezed small: the ratio a bomb relies on
    with pytest.raises(UnsafeArchive, match="unpacks to more than"):
        unpack(archive, "zip", dest, Caps(max_members=1000, max_bytes=10 * 1024 * 1024))
    assert _leftovers(dest) == []


def test_a_tar_bomb_stops_at_the_byte_cap(tmp_path: Path, dest: Path) -> None:
    archive = write_tar(tmp_path / "bomb.tar.gz", [tar_file("zeros", bytes(3 * 1024 * 1024))])
    with pytest.raises(UnsafeArchive, match="unpacks to more than"):
        unpack(archive, "tar.gz", dest, Caps(max_members=10, max_bytes=1024 * 1024))
    assert _leftovers(dest) == []


def test_too_many_members_are_refused(tmp_path: Path, dest: Path) -> None:
    archive = write_zip(tmp_path / "many.zip", [(f"f{i}", b"") for i in range(50)])
    with pytest.raises(UnsafeArchive, match="more than 20 members"):
        unpack(archive, "zip", dest, Caps(max_members=20, max_bytes=1024))


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        pytest.param(b"not an archive at all", "zip", id="zip"),
        pytest.param(b"not an archive at all", "tar.gz", id="tar.gz"),
        pytest.param(b"not an archive at all", "tar.xz", id="tar.xz"),
        pytest.param(b"not an archive at all", "tar.bz2", id="tar.bz2"),
    ],
)
def test_a_corrupt_archive_is_reported_as_such(tmp_path: Path, dest: Path, content: bytes, fmt: str) -> None:
    archive = tmp_path / "corrupt"
    archive.write_bytes(content)
    with pytest.raises(UnsafeArchive, match=f"not a readable {fmt} archive"):
        unpack(archive, fmt, dest, CAPS)  # type: ignore[arg-type]
    assert _leftovers(dest) == []


def test_an_existing_destination_is_never_overwritten(tmp_path: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    archive = write_zip(tmp_path / "a.zip", [("x", b"y")])
    with pytest.raises(FileExistsError):
        unpack(archive, "zip", dest, CAPS)
