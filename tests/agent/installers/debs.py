"""Tiny real .deb packages built with dpkg-deb, and the job specs that install them."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from schemas.jobs import JobSpec, PackageTarget
from schemas.packages import parse_installer
from tests.agent.builders import AGENT_ID, NOW, Artifact, artifact

DEB_NAME = "fleetward-test-hello"
HELLO = Path("/usr/local/share/fleetward-test/hello.txt")

needs_root_dpkg = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg-deb") is None or shutil.which("dpkg-query") is None,
    reason="installs a real .deb: needs root and dpkg-deb/dpkg-query (CI runs as root on Debian)",
)


def build_deb(folder: Path, version: str, control: str = "", name: str = DEB_NAME) -> Artifact:
    """``control``: extra control lines ("Depends: dpkg (>= 1.0)\\n"); the file name tells them apart."""
    tag = "-" + hashlib.sha256(control.encode()).hexdigest()[:8] if control else ""
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
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)], check=True,
                   capture_output=True)
    return artifact(out)


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
