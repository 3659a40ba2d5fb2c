"""Fetching an artifact into the cache, pinned by SHA-256 and size.

Sources: ``https://``, ``file://`` on this machine, and plain ``http://`` to
loopback (or anywhere, if the agent was enrolled with ``--allow-insecure-http``).
The body is streamed to disk and hashed on the way; it stops as soon as it
exceeds the declared size (or the global cap when none is declared), and the
file is only handed on once both the size and the SHA-256 match. A partial
file never survives an error.

Redirects are followed by hand (at most five) so each hop is checked against
the URL policy: a hop may upgrade http to https, but never switch to another
scheme (``file://``!) or to plain http off loopback. Messages show URLs without
their query string, which is where presigned URLs keep their secrets.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from agent.connection import USER_AGENT
from agent.errors import ArtifactError, InsecureUrl
from agent.urls import check_artifact_url, file_url_path, redact_url

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class ArtifactPin:
    """What the reviewed YAML promised about the artifact."""

    url: str
    sha256: str
    size: int | None


def download(
    pin: ArtifactPin,
    destination: Path,
    *,
    allow_insecure_http: bool,
    max_bytes: int,
    timeout_seconds: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> Downloaded:
    """Stream ``pin.url`` into ``destination``; returns only when size and hash match."""
    check_artifact_url(pin.url, allow_insecure_http=allow_insecure_http)
    limit = min(pin.size, max_bytes) if pin.size is not None else max_bytes
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        if urlsplit(pin.url).scheme == "file":
            digest, size = _copy_file(pin.url, destination, limit)
        else:
            digest, size = _fetch_http(pin.url, destination, limit, allow_insecure_http,
                                       timeout_seconds, transport)
        _check_pin(pin, size, digest)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    log.info("downloaded %s (%d bytes, sha256 ok)", redact_url(pin.url), size)
    return Downloaded(destination, size, digest)


def _check_pin(pin: ArtifactPin, size: int, digest: str) -> None:
    shown = redact_url(pin.url)
    if pin.size is not None and size != pin.size:
        raise ArtifactError(
            f"{shown}: truncated: got {size} bytes, the package declares size {pin.size}",
            hint="the download was cut short or the file changed; check the artifact server",
        )
    if digest != pin.sha256:
        raise ArtifactError(
            f"{shown}: sha256 mismatch: got {digest}, the package pins {pin.sha256}",
            hint="the artifact changed since the Package was reviewed; fix the file or update sha256",
        )


def _write_stream(chunks: Iterable[bytes], destination: Path, limit: int, shown: str) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with destination.open("wb") as handle:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise ArtifactError(
                    f"{shown}: larger than the {limit} bytes allowed (declared size or the agent's cap); "
                    "stopped reading",
                    hint="the artifact does not match its Package's size; fix the file or the size",
                )
            hasher.update(chunk)
            handle.write(chunk)
    return hasher.hexdigest(), size


def _copy_file(url: str, destination: Path, limit: int) -> tuple[str, int]:
    source = file_url_path(url)
    if not source.is_file():
        raise ArtifactError(f"{url}: no such file", hint="check the Package's url")

    def chunks() -> Iterable[bytes]:
        with source.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    try:
        return _write_stream(chunks(), destination, limit, url)
    except OSError as exc:
        raise ArtifactError(f"{url}: cannot read ({exc.strerror})") from None


def _check_redirect(current: str, target: str, allow_insecure_http: bool) -> None:
    before, after = urlsplit(current).scheme, urlsplit(target).scheme
    if after != before and not (before == "http" and after == "https"):
        raise InsecureUrl(f"{redact_url(current)} redirected to a {after}:// URL; only https or the "
                          "same scheme is followed", hint="serve the artifact from its final URL")
    check_artifact_url(target, allow_insecure_http=allow_insecure_http)


def _fetch_http(url: str, destination: Path, limit: int, allow_insecure_http: bool, timeout_seconds: float,
                transport: httpx.BaseTransport | None) -> tuple[str, int]:
    with httpx.Client(follow_redirects=False, timeout=timeout_seconds, transport=transport,
                      headers={"User-Agent": USER_AGENT}) as http:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            shown = redact_url(current)
            try:
                with http.stream("GET", current) as response:
                    if response.is_redirect:
                        target = urljoin(current, response.headers.get("Location", ""))
                        _check_redirect(current, target, allow_insecure_http)
                        current = target
                        continue
                    if response.status_code != 200:
                        raise ArtifactError(f"{shown}: HTTP {response.status_code}",
                                            hint="check that the artifact exists at the Package's url")
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise ArtifactError(
                            f"{shown}: the server announces {declared} bytes, larger than the {limit} "
                            "allowed",
                            hint="the artifact does not match its Package's size; fix the file or the size",
                        )
                    return _write_stream(response.iter_bytes(CHUNK_BYTES), destination, limit, shown)
            except httpx.TransportError as exc:
                got = destination.stat().st_size if destination.exists() else 0
                raise ArtifactError(f"{shown}: download interrupted after {got} bytes "
                                    f"({type(exc).__name__}: {exc})",
                                    hint="the job fails; it is retried later") from None
        raise ArtifactError(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")
