"""Things the agent tests build for real: signing keys and signed jobs, archives (good and malicious)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.jobs import JOB_SIGNATURE_CONTEXT, JobSpec, PackageTarget, SignedJob, canonical_json
from schemas.packages import ArchiveInstaller
from schemas.protocol import SigningKey

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
AGENT_ID = "a_" + "1" * 32


class Signer:
    """A controller-side job-signing key, made in the test."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
        self.public_b64 = base64.b64encode(raw).decode()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @property
    def signing_key(self) -> SigningKey:
        return SigningKey(key_id=self.key_id, public_key=self.public_b64)

    def sign_payload(self, payload: str, *, job_id: str, seq: int, key_id: str | None = None) -> SignedJob:
        signature = self.private.sign(JOB_SIGNATURE_CONTEXT + payload.encode())
        return SignedJob(job_id=job_id, seq=seq, key_id=key_id or self.key_id, payload=payload,
                         signature=base64.b64encode(signature).decode())

    def sign(self, spec: JobSpec) -> SignedJob:
        payload = canonical_json(spec.model_dump(mode="json"))
        return self.sign_payload(payload, job_id=spec.job_id, seq=spec.seq)


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size: int

    @property
    def url(self) -> str:
        return self.path.as_uri()


def artifact(path: Path) -> Artifact:
    data = path.read_bytes()
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data))


def make_spec(
    *,
    seq: int = 1,
    action: str = "install",
    name: str = "hello-tool",
    version: str = "1.0.0",
    url: str = "file:///srv/hello-tool-1.0.0.tar.gz",
    sha256: str = "0" * 64,
    size: int | None = None,
    agent_id: str = AGENT_ID,
    job_id: str | None = None,
    expires_at: datetime | None = None,
    os: str = "linux",
    fmt: str | None = None,
) -> JobSpec:
    installer = ArchiveInstaller.model_validate(
        {"os": os, "type": "archive", "url": url, "sha256": sha256, "size": size, "format": fmt})
    return JobSpec(
        job_id=job_id or f"j_{seq:032x}", agent_id=agent_id, seq=seq, issued_at=NOW - timedelta(minutes=1),
        expires_at=expires_at or NOW + timedelta(hours=1), action=action,  # type: ignore[arg-type]
        package=PackageTarget(name=name, version=version, installer=installer),
        deployment="hello-on-linux", revision="c" * 40,
    )


def spec_for(art: Artifact, **fields: object) -> JobSpec:
    """A job installing ``art`` (file:// URL, pinned hash and size)."""
    base: dict[str, object] = {"url": art.url, "sha256": art.sha256, "size": art.size}
    base.update(fields)
    return make_spec(**base)  # type: ignore[arg-type]


# -- archives -----------------------------------------------------------------------------------

def tar_file(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def tar_special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, b""


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], compression: str = "gz") -> Path:
    mode = f"w:{compression}" if compression else "w"
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def write_zip(path: Path, members: list[tuple[str, bytes]], *, symlinks: dict[str, str] | None = None,
              unix_modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if unix_modes and name in unix_modes:
                info.external_attr = unix_modes[name] << 16
            else:
                info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return path


def hello_tar(path: Path, version: str = "1.0.0", compression: str = "gz") -> Artifact:
    """A small, well-formed package: a script, a README, a folder, a symlink and a hard link."""
    members = [
        tar_special("hello", tarfile.DIRTYPE),
        tar_file("hello/bin/hello", f"#!/bin/sh\necho hello {version}\n".encode(), 0o755),
        tar_file("hello/README", b"read me\n"),
        tar_special("hello/current", tarfile.SYMTYPE, "bin/hello"),
        tar_special("hello/README.copy", tarfile.LNKTYPE, "hello/README"),
    ]
    return artifact(write_tar(path, members, compression))
