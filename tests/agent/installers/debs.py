"""Tiny real .deb packages built with dpkg-deb, .debs put together by hand, and the job specs that install them.

The hand-made ones (``ar`` and ``tar`` written here) have the shapes dpkg-deb would not build:
truncated, oversize, an unknown member, a control file spelled oddly.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import subprocess
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest

from schemas.jobs import JobSpec, PackageTarget
from schemas.packages import parse_installer
from tests.agent.builders import AGENT_ID, NOW, Artifact, artifact, tar_file

DEB_NAME = "fleetward-test-hello"
HELLO = Path("/usr/local/share/fleetward-test/hello.txt")
DPKG_STATUS_FIXTURE = Path(__file__).parent / "fixtures" / "dpkg" / "status"
"""A dpkg database (the ``status`` file) for tests of the agent's in-process reading of it."""

needs_root_dpkg = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg-deb") is None or shutil.which("dpkg-query") is None,
    reason="installs a real .deb: needs root and dpkg-deb/dpkg-query (CI runs as root on Debian)",
)


def build_deb(folder: Path, version: str, control: str = "", name: str = DEB_NAME,
              compression: str | None = None) -> Artifact:
    """``control``: extra control lines ("Depends: dpkg (>= 1.0)\\n"); the file name tells them apart.

    ``compression`` is dpkg-deb's ``-Z`` (gzip, xz, zstd, none); its default (xz here) otherwise.
    """
    tag = "-" + hashlib.sha256(control.encode()).hexdigest()[:8] if control else ""
    tag += f"-{compression}" if compression else ""
    root = folder / f"{name}-{version}{tag}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Fleetward tests <t@example.com>\n"
        f"{control}Description: Fleetward test package\n a tiny package the agent tests install and remove\n")
    if name == DEB_NAME:
        target = root / HELLO.relative_to("/")
        target.parent.mkdir(parents=True)
        target.write_text(f"hello {version}\n")
    out = folder / f"{name}_{version}{tag}_all.deb"
    level = [f"-Z{compression}"] if compression else []
    subprocess.run(["dpkg-deb", "--root-owner-group", *level, "--build", str(root), str(out)], check=True,
                   capture_output=True)
    return artifact(out)


def dpkg_deb_compressions() -> set[str]:
    """The ``-Z`` types this dpkg-deb builds, from its --help (older ones have no zstd)."""
    usage = subprocess.run(["dpkg-deb", "--help"], capture_output=True, text=True, check=False).stdout
    allowed = next((line for line in usage.splitlines() if "Allowed types:" in line), "")
    return {word.strip(" .,") for word in allowed.partition("Allowed types:")[2].split()}


def ar_archive(*members: tuple[str, bytes]) -> bytes:
    """An ``ar`` archive as dpkg-deb writes one: the magic, 60-byte headers, data padded to an even length."""
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + b"\n" * (len(data) % 2)
    return bytes(out)


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    """``gz``, ``xz`` or ``""`` (none), as the control member's name ends."""
    return {"gz": gzip.compress, "xz": lzma.compress, "": bytes}[compression](data)


CONTROL = (f"Package: {DEB_NAME}\nVersion: 1.0\nArchitecture: all\nMaintainer: Fleetward tests <t@example.com>\n"
           "Description: Fleetward test package\n made by hand\n")


def handmade_deb(control: str = CONTROL, *, compression: str = "gz", control_tar: bytes | None = None) -> bytes:
    """A .deb of ``debian-binary``, ``control.tar[.gz|.xz]`` (``./control`` alone) and an empty data.tar."""
    tar = control_tar if control_tar is not None else tar_bytes(tar_file("./control", control.encode()))
    member = "control.tar" + (f".{compression}" if compression else "")
    return ar_archive(("debian-binary", b"2.0\n"), (member, compress(tar, compression)),
                      ("data.tar.gz", gzip.compress(tar_bytes())))


def dpkg_status(package: str = DEB_NAME) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", package], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def purge(package: str = DEB_NAME) -> None:
    subprocess.run(["dpkg", "--purge", package], capture_output=True, check=False)


def deb_installer(url: str, art: Artifact, **extra: object) -> dict[str, object]:
    return {"os": "linux", "type": "deb", "url": url, "sha256": art.sha256, "size": art.size,
            "packageName": DEB_NAME, **extra}


def native_spec(installer: dict[str, object], *, seq: int = 1, action: str = "install", version: str = "1.0",
                name: str = "hello-deb", previous: str | None = None) -> JobSpec:
    return JobSpec(
        job_id=f"j_{seq:032x}", agent_id=AGENT_ID, seq=seq, issued_at=NOW - timedelta(minutes=1),
        expires_at=NOW + timedelta(hours=1), action=action,  # type: ignore[arg-type]
        package=PackageTarget(name=name, version=version, installer=parse_installer(installer)),
        previous_version=previous, deployment="hello-deb", revision="c" * 40,
    )
