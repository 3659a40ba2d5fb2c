"""A migrated store on each engine (SQLite, and PostgreSQL when FLEETWARD_TEST_PG is set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.store import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    try:
        yield opened
    finally:
        opened.close()
