"""Fetching an artifact into the cache, pinned by SHA-256 and size.

Sources: ``https://``, ``file://`` on this machine, and plain ``http://`` to
loopback (or anywhere, if the agent was enrolled with ``--allow-insecure-http``).
The body is streamed to disk and hashed on the way; it stops as soon as it
exceeds the declared size (or the global cap when none is declared), and the
file is only handed on once both the size and the SHA-256 match. A partial
file never survives an error.

With ``resume=True`` (the download cache, :mod:`agent.installers.caching`) a
partial file left by an interrupted transfer is kept, and the next attempt asks
for the rest with an HTTP ``Range`` request. The existing bytes are hashed
again before appending, and the final size and SHA-256 are checked as always.
The transfer restarts from zero when the server ignores the range (answers 200),
answers a range other than the one asked for, or the partial is already longer
than the declared size.

Redirects are followed by hand (at most five) so each hop is checked against
the URL policy: a hop may upgrade http to https, but never switch to another
scheme (``file://``!) or to plain http off loopback. Messages show URLs without
their query string, which is where presigned URLs keep their secrets.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import ssl
from collections.abc import Callable, Iterable, Iterator
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


class DownloadInterrupted(ArtifactError):
    """The transfer stopped part-way; a resumable download keeps what arrived."""


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
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Downloaded:
    """Stream ``pin.url`` into ``destination``; returns only when size and hash match.

    With ``resume``, bytes already in ``destination`` are kept and only the rest is fetched
    (HTTP Range), and an interrupted transfer leaves its partial file for the next attempt."""
    check_artifact_url(pin.url, allow_insecure_http=allow_insecure_http)
    limit = min(pin.size, max_bytes) if pin.size is not None else max_bytes
    destination.parent.mkdir(parents=True, exist_ok=True)
    if not resume or (destination.exists() and destination.stat().st_size > limit):
        destination.unlink(missing_ok=True)
    try:
        if urlsplit(pin.url).scheme == "file":
            destination.unlink(missing_ok=True)
            digest, size = _copy_file(pin.url, destination, limit)
        else:
            digest, size = _fetch_http(pin.url, destination, limit, allow_insecure_http,
                                       timeout_seconds, transport, progress)
        _check_pin(pin, size, digest)
    except ArtifactError as exc:
        if not (resume and isinstance(exc, DownloadInterrupted)):
            destination.unlink(missing_ok=True)
        raise
    except BaseException:
        if not resume:
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


def _counted(chunks: Iterable[bytes], start: int, progress: Callable[[int], None]) -> Iterator[bytes]:
    """``chunks`` unchanged, telling ``progress`` how many bytes of the artifact are there after each."""
    got = start
    for chunk in chunks:
        got += len(chunk)
        progress(got)
        yield chunk


def _write_stream(chunks: Iterable[bytes], destination: Path, limit: int, shown: str,
                  append: bool = False) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    if append:
        with destination.open("rb") as existing:
            while block := existing.read(CHUNK_BYTES):
                hasher.update(block)
                size += len(block)
    with destination.open("ab" if append else "wb") as handle:
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


def _range_start(response: httpx.Response) -> int | None:
    """The first byte of a 206 answer's ``Content-Range: bytes first-last/total``."""
    value = response.headers.get("Content-Range", "")
    unit, _, rest = value.partition(" ")
    first = rest.partition("-")[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


def _interrupted(message: str, *, restart: Path | None = None) -> ArtifactError:
    """A transfer cut short: with ``resume`` its partial file is kept, unless it must ``restart``."""
    if restart is not None:
        restart.unlink(missing_ok=True)
        return ArtifactError(message, hint="the job fails; the next attempt downloads from the start")
    return DownloadInterrupted(message, hint="the job fails; it is retried later")


def _check_redirect(current: str, target: str, allow_insecure_http: bool) -> None:
    before, after = urlsplit(current).scheme, urlsplit(target).scheme
    if after != before and not (before == "http" and after == "https"):
        raise InsecureUrl(f"{redact_url(current)} redirected to a {after}:// URL; only https or the "
                          "same scheme is followed", hint="serve the artifact from its final URL")
    check_artifact_url(target, allow_insecure_http=allow_insecure_http)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS settings every download shares, made as httpx makes them (its CA bundle, the SSL_CERT_*
    environment). Building them loads the CA bundle, 40-80 ms on a busy machine: once per process,
    not once per job (it was most of the agent's overhead over ``dpkg -i`` for a small .deb)."""
    return httpx.create_ssl_context()


def _fetch_http(url: str, destination: Path, limit: int, allow_insecure_http: bool, timeout_seconds: float,
                transport: httpx.BaseTransport | None,
                progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    with httpx.Client(follow_redirects=False, timeout=timeout_seconds, transport=transport, verify=_tls_context(),
                      headers={"User-Agent": USER_AGENT}) as http:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            shown = redact_url(current)
            have = destination.stat().st_size if destination.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with http.stream("GET", current, headers=headers) as response:
                    if response.is_redirect:
                        target = urljoin(current, response.headers.get("Location", ""))
                        _check_redirect(current, target, allow_insecure_http)
                        current = target
                        continue
                    append = have > 0 and response.status_code == 206 and _range_start(response) == have
                    if have and not append:
                        log.info("%s: the server did not continue at byte %d; downloading from the start",
                                 shown, have)
                        if response.status_code == 206:
                            raise _interrupted(f"{shown}: the server answered a different range than asked",
                                               restart=destination)
                    if response.status_code not in (200, 206) or (response.status_code == 206 and not append):
                        raise ArtifactError(f"{shown}: HTTP {response.status_code}",
                                            hint="check that the artifact exists at the Package's url")
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) + (have if append else 0) > limit:
                        raise ArtifactError(
                            f"{shown}: the server announces {declared} bytes, larger than the {limit} "
                            "allowed",
                            hint="the artifact does not match its Package's size; fix the file or the size",
                        )
                    # Chunks as they arrive (no re-buffering), so an interrupted transfer keeps every byte it got.
                    chunks = response.iter_bytes()
                    if progress is not None:
                        chunks = _counted(chunks, have if append else 0, progress)
                    return _write_stream(chunks, destination, limit, shown, append=append)
            except httpx.TransportError as exc:
                got = destination.stat().st_size if destination.exists() else 0
                raise _interrupted(f"{shown}: download interrupted after {got} bytes "
                                   f"({type(exc).__name__}: {exc})") from None
        raise ArtifactError(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")
