"""A database that does not answer is StoreUnavailable (retryable); bad settings are ConfigError."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from controller.errors import ConfigError, StoreUnavailable
from controller.store import Store, create_api_token, upgrade
from controller.store.connecting import create_store_engine, parse_url
from controller.store.tables import audit_log
from tests.store.builders import NOW
from tests.support.databases import terminate_backends


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("action", [pytest.param(Store.open, id="open"), pytest.param(upgrade, id="upgrade")])
def test_postgres_on_a_closed_port_is_unavailable_and_the_password_stays_secret(closed_port: int,
                                                                                action) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql+psycopg://fleet:hunter2@127.0.0.1:{closed_port}/fleetward"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        action(url)
    assert time.monotonic() - started < 10
    assert caught.value.retryable
    assert f"127.0.0.1:{closed_port}" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.fixture
def locked_sqlite(tmp_path: Path) -> Iterator[Store]:
    """A store whose database another process holds the write lock of."""
    store = Store.open(f"sqlite:///{tmp_path / 'fleetward.db'}", sqlite_busy_timeout=0.2)
    holder = sqlite3.connect(tmp_path / "fleetward.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield store
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store.close()


def test_a_locked_sqlite_database_is_unavailable(locked_sqlite: Store) -> None:
    with pytest.raises(StoreUnavailable, match="database is locked"):
        create_api_token(locked_sqlite, name="ci", role="viewer", now=NOW)


def test_errors_that_mean_a_bug_are_not_disguised(database_url: str) -> None:
    with Store.open(database_url) as store, pytest.raises(IntegrityError):  # noqa: SIM117
        with store.write() as session:
            row = {"id": 1, "at": NOW, "actor": "x", "actor_kind": "cli", "action": "a", "target": "t"}
            session.execute(insert(audit_log).values(row))
            session.execute(insert(audit_log).values(row))


@pytest.mark.parametrize("url", [
    pytest.param("mysql://db/fleetward", id="unsupported-engine"),
    pytest.param("sqlite://", id="sqlite-in-memory"),
    pytest.param("not a url", id="garbage"),
])
def test_unusable_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="sqlite:///"):
        Store.open(url)


def test_a_sqlite_folder_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create the folder"):
        Store.open(f"sqlite:///{tmp_path / 'file' / 'data' / 'fleetward.db'}")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgres_urls_use_psycopg(scheme: str) -> None:
    assert parse_url(f"{scheme}://u@h/db").drivername == "postgresql+psycopg"


def _backend_pid(store: Store) -> int:
    with store.read() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.fixture
def counted_pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each real ping the pool sends, counted."""
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    pings: list[int] = []
    real: Callable[[PGDialect_psycopg, Any], bool] = PGDialect_psycopg.do_ping

    def counting(self: PGDialect_psycopg, dbapi_connection: Any) -> bool:
        pings.append(1)
        return real(self, dbapi_connection)

    monkeypatch.setattr(PGDialect_psycopg, "do_ping", counting)
    return pings


def test_a_connection_in_use_is_not_pinged_and_a_quiet_one_is(pg_url: str, counted_pings: list[int]) -> None:
    with Store(create_store_engine(pg_url, pool_size=1, ping_after_idle=0.3)) as store:
        for _ in range(5):
            _backend_pid(store)
        assert counted_pings == []  # a new connection, then one used a moment ago: no round trip spent
        time.sleep(0.4)
        _backend_pid(store)
        assert counted_pings == [1]


def test_a_server_restart_during_a_quiet_spell_costs_no_error(pg_url: str) -> None:
    with Store(create_store_engine(pg_url, pool_size=2, ping_after_idle=0.1)) as store:
        before = _backend_pid(store)
        assert terminate_backends(pg_url) >= 1
        time.sleep(0.2)
        assert _backend_pid(store) != before  # the dead connection was pinged and replaced


def test_a_restart_under_constant_use_costs_one_retryable_error_then_recovers(pg_url: str) -> None:
    with Store(create_store_engine(pg_url, pool_size=2, ping_after_idle=60)) as store:
        before = _backend_pid(store)
        assert terminate_backends(pg_url) >= 1
        with pytest.raises(StoreUnavailable) as caught:
            _backend_pid(store)
        assert caught.value.retryable
        assert _backend_pid(store) != before
