"""Artifact downloads: streamed, pinned by size and SHA-256, redirects checked hop by hop."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from agent.downloading import ArtifactPin, download
from agent.errors import ArtifactError, InsecureUrl
from tests.agent.servers import ArtifactServer

BODY = b"fleetward artifact " * 1000
SHA = hashlib.sha256(BODY).hexdigest()


def _get(pin: ArtifactPin, tmp_path: Path, **options: object):
    options.setdefault("allow_insecure_http", False)
    options.setdefault("max_bytes", 10 * 1024 * 1024)
    return download(pin, tmp_path / "cache" / "artifact.download", timeout_seconds=5, **options)  # type: ignore[arg-type]


def test_http_from_loopback_with_matching_pin(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.tar.gz", BODY)
    got = _get(ArtifactPin(url, SHA, len(BODY)), tmp_path)
    assert got.path.read_bytes() == BODY
    assert (got.size, got.sha256) == (len(BODY), SHA)


def test_file_url(tmp_path: Path) -> None:
    source = tmp_path / "a.tar.gz"
    source.write_bytes(BODY)
    got = _get(ArtifactPin(source.as_uri(), SHA, None), tmp_path)
    assert got.path.read_bytes() == BODY


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        pytest.param(len(BODY) - 1, "larger than", id="body-bigger-than-declared"),
        pytest.param(len(BODY) + 1, "truncated", id="body-smaller-than-declared"),
    ],
)
def test_size_mismatch_fails_and_leaves_nothing(artifact_server: ArtifactServer, tmp_path: Path,
                                                declared: int, message: str) -> None:
    url = artifact_server.add("a.tar.gz", BODY)
    with pytest.raises(ArtifactError, match=message):
        _get(ArtifactPin(url, SHA, declared), tmp_path)
    assert not list((tmp_path / "cache").iterdir())


def test_a_file_bigger_than_declared_stops_at_the_declared_size(tmp_path: Path) -> None:
    source = tmp_path / "a.tar.gz"
    source.write_bytes(BODY)
    with pytest.raises(ArtifactError, match=f"larger than the {len(BODY) - 1} bytes allowed"):
        _get(ArtifactPin(source.as_uri(), SHA, len(BODY) - 1), tmp_path)
    assert not list((tmp_path / "cache").iterdir())


def test_hash_mismatch_fails_and_leaves_nothing(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.tar.gz", BODY)
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        _get(ArtifactPin(url, "0" * 64, len(BODY)), tmp_path)
    assert not list((tmp_path / "cache").iterdir())


def test_a_truncated_body_fails(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.tar.gz", BODY, truncate_to=1000)
    with pytest.raises(ArtifactError, match="interrupted after"):
        _get(ArtifactPin(url, SHA, None), tmp_path)
    assert not list((tmp_path / "cache").iterdir())


def test_no_declared_size_is_capped(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.tar.gz", BODY)
    with pytest.raises(ArtifactError, match="larger than the 100 allowed"):
        _get(ArtifactPin(url, SHA, None), tmp_path, max_bytes=100)


def test_http_errors_are_reported(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="HTTP 404"):
        _get(ArtifactPin(artifact_server.url("missing.tar.gz"), SHA, None), tmp_path)


def test_a_redirect_on_loopback_is_followed(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    final = artifact_server.add("real.tar.gz", BODY)
    url = artifact_server.redirect("moved.tar.gz", final, status=301)
    assert _get(ArtifactPin(url, SHA, len(BODY)), tmp_path).size == len(BODY)
    assert artifact_server.requested == ["/moved.tar.gz", "/real.tar.gz"]


def test_a_redirect_to_file_is_refused(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(BODY)
    url = artifact_server.redirect("a.tar.gz", secret.as_uri())
    with pytest.raises(InsecureUrl, match="redirected to a file://"):
        _get(ArtifactPin(url, SHA, None), tmp_path)


def test_a_redirect_to_plain_http_off_loopback_is_refused(artifact_server: ArtifactServer,
                                                          tmp_path: Path) -> None:
    url = artifact_server.redirect("a.tar.gz", "http://203.0.113.7/a.tar.gz")
    with pytest.raises(InsecureUrl, match="non-loopback"):
        _get(ArtifactPin(url, SHA, None), tmp_path)
    assert artifact_server.requested == ["/a.tar.gz"]


def _no_traffic(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the agent sent {request.method} {request.url} although policy forbids it")


def test_plain_http_off_loopback_is_refused_before_any_traffic(tmp_path: Path) -> None:
    with pytest.raises(InsecureUrl, match="plain http to a non-loopback host"):
        _get(ArtifactPin("http://203.0.113.7/a.tar.gz", SHA, None), tmp_path,
             transport=httpx.MockTransport(_no_traffic))


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no such file"):
        _get(ArtifactPin((tmp_path / "nope.tar.gz").as_uri(), SHA, None), tmp_path)
