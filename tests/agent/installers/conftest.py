"""Fixtures for the installer tests: native package executors on a real data dir."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.facts import current_os
from agent.installers.caching import CacheLimits, DownloadCache
from agent.installers.deploying import NativePackages
from agent.installers.detecting import Probes
from agent.installers.steps import Context
from agent.receipts import Receipts
from agent.state import DataDir
from tests.agent.builders import NOW
from tests.agent.installers.debs import DPKG_STATUS_FIXTURE, purge


def make_native(data_dir: DataDir, *, use_apt: bool = False, lock_wait_seconds: float = 5.0,
                limits: CacheLimits | None = None) -> NativePackages:
    cache = DownloadCache(data_dir.cache_dir / "artifacts", limits or CacheLimits(), allow_insecure_http=False,
                          max_artifact_bytes=50 * 1024 * 1024, timeout_seconds=5)
    return NativePackages(Receipts(data_dir.receipts_dir), cache, Probes(current_os()), clock=lambda: NOW,
                          work_root=data_dir.cache_dir / "jobs", lock_path=data_dir.root / "install.lock",
                          lock_wait_seconds=lock_wait_seconds, context=Context(version="", use_apt=use_apt))


@pytest.fixture
def native(data_dir: DataDir) -> NativePackages:
    return make_native(data_dir)


@pytest.fixture
def debs(tmp_path: Path) -> Iterator[Path]:
    """A folder to build .debs in; the test package is purged afterwards whatever happened."""
    folder = tmp_path / "debs"
    folder.mkdir()
    purge()
    try:
        yield folder
    finally:
        purge()


@pytest.fixture
def admin_dir(tmp_path: Path) -> Path:
    """``fixtures/dpkg/status`` as dpkg leaves its database after a run: ``status`` and an empty ``updates/``."""
    folder = tmp_path / "dpkg"
    (folder / "updates").mkdir(parents=True)
    shutil.copy(DPKG_STATUS_FIXTURE, folder / "status")
    return folder
