"""Key folders for the sealed-secrets tests: this controller's, and another controller's."""

from __future__ import annotations

import pytest

from controller.secrets import KeyFolder


@pytest.fixture
def folder(tmp_path) -> KeyFolder:
    """This controller's ``<data dir>/keys/`` with its first key pair."""
    keys = KeyFolder(tmp_path / "data" / "keys")
    keys.ensure()
    return keys


@pytest.fixture
def other_folder(tmp_path) -> KeyFolder:
    """Another controller's key folder (another MSP, or a test instance)."""
    keys = KeyFolder(tmp_path / "other" / "keys")
    keys.ensure()
    return keys
