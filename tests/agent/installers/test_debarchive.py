"""A .deb's control fields read in-process: the same fields as ``dpkg-deb -f``, and a refusal for anything odd.

Real .debs are built with dpkg-deb in each compression it offers; the odd ones are put together
by hand (:func:`~tests.agent.installers.debs.handmade_deb`).
"""

from __future__ import annotations

import gzip
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from agent.installers.debarchive import MAX_CONTROL_FILE, MAX_CONTROL_MEMBER, MAX_CONTROL_TAR, read_control
from agent.installers.debstanzas import Unreadable
from agent.installers.debtool import FIELDS, parse_control_fields
from tests.agent.builders import tar_file, tar_special
from tests.agent.installers.debs import (
    CONTROL,
    DEB_NAME,
    ar_archive,
    build_deb,
    compress,
    dpkg_deb_compressions,
    handmade_deb,
    needs_root_dpkg,
    tar_bytes,
)

RELATIONS = "Depends: libc6 (>= 2.34),\n dpkg (>= 1.0) | perl\nPre-Depends: base-files\n"


@needs_root_dpkg
@pytest.mark.parametrize("compression", ["gzip", "xz", "none", None])
def test_real_debs_read_as_dpkg_deb_reads_them(tmp_path: Path, compression: str | None) -> None:
    deb = build_deb(tmp_path, "1.0", RELATIONS, compression=compression).path
    control = read_control(deb)
    shown = subprocess.run(["dpkg-deb", "-f", str(deb), *FIELDS], capture_output=True, text=True, check=True).stdout
    assert {field: control[field.lower()].replace("\n", " ") for field in FIELDS if field.lower() in control} \
        == parse_control_fields(shown)
    assert (control["package"], control["version"], control["architecture"]) == (DEB_NAME, "1.0", "all")
    assert control["depends"] == "libc6 (>= 2.34),\ndpkg (>= 1.0) | perl"


@needs_root_dpkg
def test_a_zstd_control_member_is_left_to_dpkg_deb(tmp_path: Path) -> None:
    if "zstd" not in dpkg_deb_compressions():
        pytest.skip("this dpkg-deb does not build zstd")
    with pytest.raises(Unreadable, match=r"control\.tar\.zst \(Python 3\.11 cannot decompress zstd\)"):
        read_control(build_deb(tmp_path, "1.0", compression="zstd").path)


@needs_root_dpkg
@pytest.mark.parametrize("keep", [0, 7, 8, 30, 68, 100, 140, -1])
def test_a_truncated_deb_is_refused(tmp_path: Path, keep: int) -> None:
    whole = build_deb(tmp_path, "1.0", compression="gzip").path.read_bytes()
    cut = tmp_path / "cut.deb"
    # Cut in the magic, the first header, debian-binary, the control header and the control member,
    # or drop the last byte (the data member, not read: that .deb still reads).
    cut.write_bytes(whole[:keep] if keep >= 0 else whole[:-1])
    if keep < 0:
        assert read_control(cut)["package"] == DEB_NAME
        return
    with pytest.raises(Unreadable):
        read_control(cut)


@pytest.mark.parametrize("compression", ["gz", "xz", ""])
def test_a_handmade_deb_reads_in_each_compression(tmp_path: Path, compression: str) -> None:
    deb = tmp_path / "hand.deb"
    deb.write_bytes(handmade_deb(compression=compression))
    assert read_control(deb) == {"package": DEB_NAME, "version": "1.0", "architecture": "all",
                                 "maintainer": "Fleetward tests <t@example.com>",
                                 "description": "Fleetward test package\nmade by hand"}


def test_members_dpkg_deb_skips_and_gnu_style_names(tmp_path: Path) -> None:
    tar = compress(tar_bytes(tar_file("./md5sums", b""), tar_file("control", CONTROL.encode())), "gz")
    deb = tmp_path / "hand.deb"
    deb.write_bytes(ar_archive(("debian-binary/", b"2.0\n"), ("_extension", b"odd"), ("control.tar.gz/", tar)))
    assert read_control(deb)["package"] == DEB_NAME


def _deb_with(tmp_path: Path, data: bytes) -> Path:
    deb = tmp_path / "odd.deb"
    deb.write_bytes(data)
    return deb


def _control_tar_with(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    return handmade_deb(control_tar=tar_bytes(*members))


@pytest.mark.parametrize(("data", "refusal"), [
    pytest.param(b"not an ar archive", "not an ar archive", id="garbage"),
    pytest.param(b"", "not an ar archive", id="empty"),
    pytest.param(b"0.939000\n", "not an ar archive", id="old-format"),
    pytest.param(handmade_deb().replace(b"`\n", b"XX", 1), "malformed ar member header", id="bad-header-magic"),
    pytest.param(handmade_deb().replace(b"4         `\n", b"4x        `\n", 1), "malformed ar member header",
                 id="bad-size"),
    pytest.param(ar_archive(("debian-binary", b"3.0\n")), "format 2.x", id="format-3"),
    pytest.param(ar_archive(("control.tar.gz", b"")), "format 2.x", id="no-debian-binary"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"), ("control.tar.bz2", b"")), "'control.tar.bz2'",
                 id="unknown-compression"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"), ("data.tar.gz", b"")), "'data.tar.gz'",
                 id="no-control-member"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"), *[(f"_x{i}", b"") for i in range(17)]), "'_x16'",
                 id="too-many-skipped-members"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"), ("control.tar.gz", b"\0" * (MAX_CONTROL_MEMBER + 1))),
                 "larger than", id="oversize-control-member"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"),
                            ("control.tar.gz", gzip.compress(b"\0" * (MAX_CONTROL_TAR + 1)))),
                 "decompresses to more than", id="decompression-bomb"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"), ("control.tar.gz", gzip.compress(b"x" * 600)[:-20])),
                 "truncated", id="truncated-gzip-stream"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"), ("control.tar.xz", b"garbage" * 100)), "does not decompress",
                 id="corrupt-xz"),
    pytest.param(ar_archive(("debian-binary", b"2.0\n"), ("control.tar.gz", gzip.compress(b"") + b"tail")),
                 "data after the compressed stream", id="trailing-data"),
    pytest.param(_control_tar_with(tar_file("./md5sums", b"")), "no control file", id="no-control-file"),
    pytest.param(_control_tar_with(tar_file("./control", CONTROL.encode()), tar_file("control", CONTROL.encode())),
                 "two control files", id="two-control-files"),
    pytest.param(_control_tar_with(tar_special("./control", tarfile.SYMTYPE, "/etc/passwd")),
                 "not a regular file", id="control-is-a-symlink"),
    pytest.param(_control_tar_with(tar_file("./control", b"Package: a\n" + b" x\n" * (MAX_CONTROL_FILE // 3))),
                 "not a regular file of at most", id="oversize-control-file"),
    pytest.param(handmade_deb(control_tar=b"not a tar" * 100), "not a readable tar", id="not-a-tar"),
    pytest.param(_control_tar_with(tar_file("./control", b"Package: a\nDescription: \xe9\n")),
                 "not UTF-8", id="not-utf-8"),
    pytest.param(handmade_deb("Package: a\n# comment\n"), "not a control field line", id="comment-in-control"),
])
def test_anything_odd_is_refused_with_what_it_was(tmp_path: Path, data: bytes, refusal: str) -> None:
    with pytest.raises(Unreadable, match=re.escape(refusal)):
        read_control(_deb_with(tmp_path, data))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Unreadable, match="cannot read the file"):
        read_control(tmp_path / "absent.deb")
