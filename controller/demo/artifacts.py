"""Build the demo's package artifacts reproducibly.

Each folder ``examples/artifacts/<package>-<version>/`` becomes an uncompressed
``<package>-<version>.tar`` with fixed owners, modes and times, so the same
sources always give the same bytes — and the SHA-256 pinned in the examples'
YAML stays true. (Plain tar, because gzip output depends on the zlib build.)
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FIXED_MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class BuiltArtifact:
    name: str
    path: Path
    sha256: str
    size: int


def build_tar(source: Path) -> bytes:
    """The reproducible tar of ``source``'s contents (paths relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source).as_posix()
            if path.is_dir():
                archive.addfile(_info(relative, tarfile.DIRTYPE, 0o755))
            elif path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
                archive.addfile(_info(relative, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def build_tar_of(files: Mapping[str, bytes]) -> bytes:
    """A reproducible tar of ``files`` (member name -> content), names written exactly as given.

    Files under ``bin/`` are executable. The names are not checked: the demo uses this to build
    a deliberately broken package as well.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in sorted(files.items()):
            mode = 0o755 if name.startswith("bin/") else 0o644
            archive.addfile(_info(name, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_artifacts(sources: Path, out_dir: Path) -> list[BuiltArtifact]:
    """Build every folder under ``sources`` into ``out_dir``; returns what was built."""
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for folder in sorted(p for p in sources.iterdir() if p.is_dir()):
        data = build_tar(folder)
        target = out_dir / f"{folder.name}.tar"
        target.write_bytes(data)
        built.append(BuiltArtifact(folder.name, target, hashlib.sha256(data).hexdigest(), len(data)))
    return built
