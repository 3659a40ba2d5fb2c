"""The download cache: resume with Range, restart when the server ignores it, LRU cap, stale partials."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agent.downloading import ArtifactPin
from agent.errors import ArtifactError, InsecureUrl
from agent.installers.caching import CacheLimits, DownloadCache
from tests.agent.servers import ArtifactServer

BODY = bytes(range(256)) * 400
SHA = hashlib.sha256(BODY).hexdigest()


def cache(tmp_path: Path, **limits: float) -> DownloadCache:
    return DownloadCache(tmp_path / "artifacts", CacheLimits(**limits), allow_insecure_http=False,  # type: ignore[arg-type]
                         max_artifact_bytes=10 * 1024 * 1024, timeout_seconds=5)


def test_an_interrupted_download_resumes_with_a_range_request(artifact_server: ArtifactServer,
                                                              tmp_path: Path) -> None:
    url = artifact_server.add("a.msi", BODY, truncate_to=40_000, ranges=True)
    store = cache(tmp_path)
    with pytest.raises(ArtifactError, match="interrupted after 40000 bytes"):
        store.fetch(ArtifactPin(url, SHA, len(BODY)), ".msi")
    partial = tmp_path / "artifacts" / f"{SHA}.msi.partial"
    assert partial.stat().st_size == 40_000  # kept for the next attempt

    artifact_server.add("a.msi", BODY, ranges=True)
    path, how = store.fetch(ArtifactPin(url, SHA, len(BODY)), ".msi")
    assert (how, path.read_bytes() == BODY, path.name) == ("resumed after 40000 bytes", True, f"{SHA}.msi")
    assert artifact_server.ranges == [None, "bytes=40000-"]
    assert not partial.exists()

    again, how = store.fetch(ArtifactPin(url, SHA, len(BODY)), ".msi")
    assert (again, how, len(artifact_server.requested)) == (path, "cached", 2)


def test_a_server_ignoring_range_restarts_from_zero(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.bin", BODY)  # answers 200 with the whole body whatever was asked
    store = cache(tmp_path)
    partial = tmp_path / "artifacts" / f"{SHA}.partial"
    partial.parent.mkdir()
    partial.write_bytes(b"garbage that is not the start of the file")
    path, _how = store.fetch(ArtifactPin(url, SHA, len(BODY)))
    assert path.read_bytes() == BODY
    assert artifact_server.ranges == ["bytes=41-"]


def test_a_partial_longer_than_declared_is_dropped(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.bin", BODY, ranges=True)
    partial = tmp_path / "artifacts" / f"{SHA}.partial"
    partial.parent.mkdir()
    partial.write_bytes(BODY + b"extra")
    path, how = cache(tmp_path).fetch(ArtifactPin(url, SHA, len(BODY)))
    assert (how, path.read_bytes() == BODY, artifact_server.ranges) == ("downloaded", True, [None])


def test_a_resumed_download_with_a_wrong_prefix_fails_the_hash_and_leaves_nothing(
        artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.bin", BODY, ranges=True)
    partial = tmp_path / "artifacts" / f"{SHA}.partial"
    partial.parent.mkdir()
    partial.write_bytes(b"X" * 100)
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        cache(tmp_path).fetch(ArtifactPin(url, SHA, len(BODY)))
    assert list(partial.parent.iterdir()) == []


def test_a_cached_file_changed_on_disk_is_fetched_again(artifact_server: ArtifactServer, tmp_path: Path) -> None:
    url = artifact_server.add("a.bin", BODY)
    store = cache(tmp_path)
    path, _ = store.fetch(ArtifactPin(url, SHA, len(BODY)))
    path.write_bytes(b"tampered")
    again, how = store.fetch(ArtifactPin(url, SHA, len(BODY)))
    assert (how, again.read_bytes() == BODY) == ("downloaded", True)


@pytest.mark.parametrize(("route", "error", "message"), [
    pytest.param("missing", ArtifactError, "HTTP 404", id="404"),
    pytest.param("to-file", InsecureUrl, "redirected to a file:// URL", id="redirect-to-file"),
    pytest.param("to-ftp", InsecureUrl, "redirected to a ftp:// URL", id="redirect-to-ftp"),
])
def test_bad_sources_fail_before_anything_is_kept(artifact_server: ArtifactServer, tmp_path: Path, route: str,
                                                  error: type[Exception], message: str) -> None:
    artifact_server.redirect("to-file", "file:///etc/passwd")
    artifact_server.redirect("to-ftp", "ftp://127.0.0.1/a.bin")
    with pytest.raises(error, match=message):
        cache(tmp_path).fetch(ArtifactPin(artifact_server.url(route), SHA, len(BODY)))
    folder = tmp_path / "artifacts"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_cleanup_evicts_least_recently_used_but_keeps_pending_and_drops_stale_partials(tmp_path: Path) -> None:
    store = cache(tmp_path, max_bytes=250, partial_max_age_seconds=3600)
    folder = tmp_path / "artifacts"
    folder.mkdir()
    now = 1_900_000_000.0
    for index, name in enumerate(["a" * 64, "b" * 64, "c" * 64]):
        (folder / f"{name}.deb").write_bytes(b"x" * 100)
        os.utime(folder / f"{name}.deb", (now - 300 + index * 100, now - 300 + index * 100))
    (folder / f"{'d' * 64}.msi.partial").write_bytes(b"x")
    os.utime(folder / f"{'d' * 64}.msi.partial", (now - 7200, now - 7200))
    (folder / f"{'e' * 64}.msi.partial").write_bytes(b"x")
    os.utime(folder / f"{'e' * 64}.msi.partial", (now - 60, now - 60))
    store.wall_clock = lambda: now
    removed = store.cleanup(keep={"a" * 64})
    # a is oldest but pending; b is the next least recently used and goes; 200 bytes left <= 250.
    assert sorted(removed) == sorted([f"{'d' * 64}.msi.partial", f"{'b' * 64}.deb"])
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [f"{'a' * 64}.deb", f"{'c' * 64}.deb", f"{'e' * 64}.msi.partial"])
