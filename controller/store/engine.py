"""The :class:`Store` handle, schema upgrades, and "database away" as a retryable error.

Every store function takes a :class:`Store` and opens its own short transaction
with :meth:`Store.read` or :meth:`Store.write`; both turn a database that does not
answer into :class:`~controller.errors.StoreUnavailable` (retryable), so callers
never see a driver exception for an outage. :func:`store_errors` does the same for
code that talks to the engine directly.

The schema is owned by the Alembic migrations shipped inside this package
(``controller/store/migrations``): :func:`upgrade` runs them programmatically, no
``alembic.ini`` needed, and :meth:`Store.open` runs them on every start (a no-op
when the schema is current).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from controller.errors import StoreUnavailable
from controller.store.connecting import WRITE_OPTIONS, create_store_engine, safe_url

MIGRATIONS = Path(__file__).parent / "migrations"

WRITER_WAIT = 10.0
"""Seconds a thread waits for its turn to write to SQLite before the store reports itself unavailable:
well below an agent's 30 s HTTP timeout, so a request that cannot write answers 503 (the agent retries)
instead of the agent giving up on an answer that may still come."""

# Any constant works; it only has to be the same for every replica running migrations.
_MIGRATION_LOCK = 0x466C_6565_7477


@contextmanager
def store_errors(url: URL | str) -> Iterator[None]:
    """Re-raise "the database is away" (refused, timed out, locked, dropped) as StoreUnavailable.

    Usable as ``with store_errors(url):`` or as a decorator. Errors that mean a bug
    (integrity, syntax) pass through unchanged.
    """
    try:
        yield
    except PoolTimeout as error:
        raise StoreUnavailable(f"no database connection free for {safe_url(url)}: {error}",
                               hint="the database is overloaded or connections leak; retrying") from error
    except DBAPIError as error:
        if not (error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)):
            raise
        detail = str(error.orig).strip().splitlines()[0] if error.orig is not None else type(error).__name__
        raise StoreUnavailable(
            f"database {safe_url(url)} is unavailable: {detail}",
            hint="check that the database is running, reachable and writable; the controller retries",
        ) from error


class Store:
    """An engine plus two session factories: plain reads, and writes that lock up front on SQLite."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url
        self.dialect = engine.dialect.name
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(engine.execution_options(**WRITE_OPTIONS), expire_on_commit=False)
        # SQLite has one writer. Threads of this process queue for it here, blocked and off the
        # interpreter, instead of in SQLite's busy handler: there they poll, and under a storm of
        # requests a holder slowed by dozens of runnable threads kept the lock past the busy timeout
        # (503s). Re-entrant, so a nested write still reaches SQLite as before.
        self._writer = threading.RLock() if self.dialect == "sqlite" else None
        # Ordinary writers pass one at a time through a gate before queueing for the lock, and the
        # one past it yields while a priority writer (the ticket worker) waits: that one waits for
        # the transaction running, not for every request thread of a storm (the lock is not fair:
        # with 40 request threads queued the worker got about one turn in 40 and fell seconds behind).
        self._gate = threading.Lock()
        self._priority = threading.Condition(threading.Lock())
        self._priority_waiting = 0
        self._held = threading.local()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, sqlite_busy_timeout: float = 5.0, pool_size: int = 10) -> Store:
        """Connect (creating a SQLite file's folder) and bring the schema up to date; ``pool_size``: see
        :func:`~controller.store.connecting.create_store_engine`."""
        store = cls(create_store_engine(url, sqlite_busy_timeout=sqlite_busy_timeout, pool_size=pool_size))
        if migrate:
            try:
                run_migrations(store.engine)
            except BaseException:
                store.close()
                raise
        return store

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction (repeatable on SQLite too); nothing is written."""
        with store_errors(self.url), self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self, *, priority: bool = False) -> Iterator[Session]:
        """A write transaction, committed when the block ends without an exception.

        ``priority``: on SQLite, take the next write turn ahead of the queue of ordinary writers
        (for short transactions that others wait on, like the ticket worker's batches)."""
        if self._writer is None:
            with store_errors(self.url), self.write_sessions() as session, session.begin():
                yield session
            return
        if not self._take_turn(priority):
            raise StoreUnavailable(f"database {safe_url(self.url)} is busy: no write turn within {WRITER_WAIT:.0f} s",
                                   hint="the controller is overloaded; the request can be retried")
        self._held.depth = self._depth() + 1
        try:
            with store_errors(self.url), self.write_sessions() as session, session.begin():
                yield session
        finally:
            self._held.depth -= 1
            self._writer.release()

    def _depth(self) -> int:
        """How many write transactions this thread holds the turn for (nested writes)."""
        depth: int = getattr(self._held, "depth", 0)
        return depth

    def _take_turn(self, priority: bool) -> bool:
        assert self._writer is not None
        if self._depth() > 0:  # a nested write: this thread has the turn already
            return self._writer.acquire(timeout=WRITER_WAIT)
        deadline = time.monotonic() + WRITER_WAIT
        if priority:
            with self._priority:
                self._priority_waiting += 1
            try:
                return self._writer.acquire(timeout=WRITER_WAIT)
            finally:
                with self._priority:
                    self._priority_waiting -= 1
                    self._priority.notify_all()
        if not self._gate.acquire(timeout=WRITER_WAIT):
            return False
        try:
            while True:  # past the gate: the next turn is ours unless a priority writer waits for it
                with self._priority:
                    if not self._priority.wait_for(lambda: self._priority_waiting == 0,
                                                   timeout=max(0.0, deadline - time.monotonic())):
                        return False
                if not self._writer.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    return False
                with self._priority:
                    if self._priority_waiting == 0:
                        return True
                self._writer.release()
        finally:
            self._gate.release()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)!r})"


def run_migrations(engine: Engine) -> None:
    """Upgrade the schema to the newest migration; idempotent and safe to race."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    with store_errors(engine.url), engine.execution_options(**WRITE_OPTIONS).begin() as connection:
        if engine.dialect.name == "postgresql":
            # Two replicas starting together: the second waits, then finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def upgrade(url: str) -> None:
    """``fleetward db upgrade``: apply every pending migration to the database at ``url``."""
    engine = create_store_engine(url)
    try:
        run_migrations(engine)
    finally:
        engine.dispose()
