"""The download cache: verified artifacts by SHA-256, resumable partials, a size cap.

Layout under ``<data dir>/cache/artifacts/``::

    <sha256><suffix>            a complete artifact whose size and hash matched its pin
    <sha256><suffix>.partial    an interrupted download, continued with HTTP Range next time

The suffix (``.msi``, ``.deb``...) is there because installers care: Windows
runs only ``.exe`` files, ``apt-get install`` takes only paths ending ``.deb``.

An artifact is hashed again every time it is handed out, so a file changed on
disk after download is refused before anything executes it. :meth:`cleanup`
deletes partials older than ``partial_max_age`` and then evicts complete
artifacts, least recently used first (mtime, refreshed on each use), until the
cache is under ``max_bytes``; artifacts whose SHA-256 is in ``keep`` (pending jobs) are never
evicted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import httpx

from agent.downloading import ArtifactPin, download
from agent.errors import ArtifactError

log = logging.getLogger(__name__)

PARTIAL = ".partial"


@dataclass(frozen=True)
class CacheLimits:
    max_bytes: int = 10 * 1024**3
    partial_max_age_seconds: float = 7 * 24 * 3600.0


class DownloadCache:
    def __init__(self, root: Path, limits: CacheLimits, *, allow_insecure_http: bool, max_artifact_bytes: int,
                 timeout_seconds: float = 60.0, transport: httpx.BaseTransport | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.limits = limits
        self.allow_insecure_http = allow_insecure_http
        self.max_artifact_bytes = max_artifact_bytes
        self.timeout_seconds = timeout_seconds
        self.transport = transport
        self.wall_clock = wall_clock

    def path(self, sha256: str, suffix: str = "") -> Path:
        if suffix and not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
            suffix = ""
        return self.root / f"{sha256}{suffix}"

    def fetch(self, pin: ArtifactPin, suffix: str = "",
              progress: Callable[[int], None] | None = None) -> tuple[Path, str]:
        """The verified artifact's path and how it was obtained ("cached", "downloaded", "resumed")."""
        final = self.path(pin.sha256, suffix)
        if final.is_file():
            if _sha256(final) == pin.sha256 and (pin.size is None or final.stat().st_size == pin.size):
                os.utime(final)
                return final, "cached"
            log.warning("cached %s no longer matches its hash; downloading it again", final.name)
            final.unlink()
        partial = final.with_name(final.name + PARTIAL)
        had = partial.stat().st_size if partial.exists() else 0
        if pin.size is not None and had > pin.size:
            partial.unlink()  # longer than the artifact can be: not a prefix of it
            had = 0
        self.root.mkdir(parents=True, exist_ok=True)
        download(pin, partial, allow_insecure_http=self.allow_insecure_http, max_bytes=self.max_artifact_bytes,
                 timeout_seconds=self.timeout_seconds, transport=self.transport, resume=True, progress=progress)
        partial.replace(final)
        return final, f"resumed after {had} bytes" if had else "downloaded"

    def verify(self, path: Path, sha256: str) -> bool:
        """Whether the cached file at ``path`` still hashes to ``sha256``."""
        try:
            return _sha256(path) == sha256
        except ArtifactError:
            return False

    def cleanup(self, keep: Collection[str] = ()) -> list[str]:
        """Delete stale partials and least-recently-used artifacts over the cap; the names removed."""
        if not self.root.is_dir():
            return []
        removed: list[str] = []
        now = self.wall_clock()
        complete: list[tuple[float, int, Path]] = []
        for entry in self.root.iterdir():
            if not entry.is_file():
                continue
            stat = entry.stat()
            if entry.name.endswith(PARTIAL):
                if now - stat.st_mtime > self.limits.partial_max_age_seconds:
                    entry.unlink()
                    removed.append(entry.name)
            else:
                complete.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _mtime, size, _path in complete)
        for _mtime, size, entry in sorted(complete, key=lambda item: item[0]):
            if total <= self.limits.max_bytes:
                break
            if entry.name.partition(".")[0] in keep:
                continue
            entry.unlink()
            total -= size
            removed.append(entry.name)
        if removed:
            log.info("download cache: removed %s", ", ".join(removed))
        return removed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise ArtifactError(f"cannot read the cached artifact {path.name}: {exc.strerror}") from None
    return digest.hexdigest()
