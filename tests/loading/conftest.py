"""Fixtures for the loading tests: a fleet folder on disk and the problems it has."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from controller.loading import DirectorySource, check_files
from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import write_files

ProblemsOf = Callable[[Mapping[str, str | bytes | None]], list[str]]


@pytest.fixture
def problems_of(tmp_path: Path) -> ProblemsOf:
    """Write files (next to clients/acme/client.yaml) and return their problems as strings."""

    def run(files: Mapping[str, str | bytes | None]) -> list[str]:
        write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, **files})
        return [str(p) for p in check_files(DirectorySource(tmp_path))]

    return run
