"""Engines for the two supported databases, configured the way the store needs them.

SQLite (the embedded default): the parent folder is created, every connection gets
WAL, foreign keys and a busy timeout, and SQLAlchemy (not the ``sqlite3`` module)
emits ``BEGIN`` so reads inside a transaction are repeatable. Write transactions
ask for ``BEGIN IMMEDIATE`` (see :data:`WRITE_OPTIONS`): taking the write lock up
front means a second writer waits for the busy timeout instead of failing when it
tries to upgrade a read lock, which in WAL mode fails at once.

PostgreSQL (``postgresql+psycopg://``, for production and several replicas): a
connection that sat idle in the pool is pinged before use (:func:`_ping_when_idle`),
so a server restarted while the controller was quiet costs a reconnect, not an
error; and a connect timeout so an unreachable server fails fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from controller.errors import ConfigError

WRITE_OPTIONS = {"fleetward_write": True}
"""Execution options of the engine that write transactions use."""

SUPPORTED = "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"

PING_AFTER_IDLE = 2.0
"""Seconds a PostgreSQL connection may sit unused in the pool before it is pinged on its next use."""


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL, with ``postgres://``/``postgresql://`` mapped to the psycopg driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError(f"database URL {url!r} is not valid: {error}", hint=f"use {SUPPORTED}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ConfigError(f"database {safe_url(parsed)} is not supported", hint=f"use {SUPPORTED}")
    return parsed


def safe_url(url: URL | str) -> str:
    """The URL for messages and logs: the password never leaves this function."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


def create_store_engine(url: str, *, sqlite_busy_timeout: float = 5.0, pool_size: int = 10,
                        ping_after_idle: float = PING_AFTER_IDLE) -> Engine:
    """``pool_size``: PostgreSQL connections kept open; as many again may open for a burst. Size it to
    the threads that use the store at once: a connection opened beyond the pool is closed again when
    returned, and under load that meant a new server process (and its prepared statements) per request.
    ``ping_after_idle``: see :func:`_ping_when_idle`."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, sqlite_busy_timeout)
    engine = create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size,
        connect_args={"connect_timeout": 5, "application_name": "fleetward"},
    )
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """Ping a pooled connection before use only when it sat unused for ``idle`` seconds or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip before every transaction,
    which under an alert storm was a tenth of the controller's threads' sampled time. A server
    restart is what the ping is for, and a connection in constant use finds it out on its next
    statement anyway: that transaction fails as "store unavailable" (the agent or the background
    loop retries it, as it must for the transactions the restart cut off), and SQLAlchemy then
    replaces every pooled connection older than the failure. A connection that was quiet, the
    usual case after a restart, is pinged and replaced before anything runs on it."""
    returned_at = "fleetward_returned_at"

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[returned_at] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(returned_at)
        if returned is None or time.monotonic() - returned < idle:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"pooled connection is dead: {error}") from error


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ConfigError(f"SQLite needs a database file, got {safe_url(url)!r}",
                          hint="use sqlite:////absolute/path/fleetward.db (four slashes: an absolute path)")
    folder = Path(database).expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the folder {folder} for the SQLite database: {error.strerror}",
                          hint="choose a writable --data-dir or pass --db-url") from None
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": busy_timeout},
    )
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            # WAL + NORMAL is durable across application crashes; only an OS crash can
            # lose the last transactions, which agents re-report anyway.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("fleetward_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
