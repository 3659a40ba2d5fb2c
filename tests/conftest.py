"""Shared fixtures: databases (SQLite always, PostgreSQL when FLEETWARD_TEST_PG is set).

``database_url`` is parametrised over both engines. The PostgreSQL case gets a fresh
database per test, created from the server named by FLEETWARD_TEST_PG and dropped
afterwards. When the variable is unset those cases skip and say why; when it is set
but the server does not answer they fail, so CI never silently loses them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "FLEETWARD_TEST_PG"

# Tests make real git commits; a fresh machine has no git identity, so give them one
# (and keep the user's global git config out of the tests' way).
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Fleetward Tests",
    "GIT_AUTHOR_EMAIL": "tests@fleetward.invalid",
    "GIT_COMMITTER_NAME": "Fleetward Tests",
    "GIT_COMMITTER_EMAIL": "tests@fleetward.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    # Agents started by tests (and the demo they run) discover their neighbours passively but
    # look up no names: tests send no packet beyond loopback and their own network namespaces.
    "FLEETWARD_AGENT_REVERSE_DNS": "off",
}


@pytest.fixture(autouse=True, scope="session")
def _git_identity() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in _GIT_IDENTITY}
    os.environ.update(_GIT_IDENTITY)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _with_database(url: str, name: str) -> str:
    base, _, _old = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    admin_url = _pg_admin_url()
    if admin_url is None:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL tests run in CI "
                    f"(postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    import psycopg

    libpq_url = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"fwtest_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(libpq_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc}")
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(libpq_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fleetward.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleetward.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
