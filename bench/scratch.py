"""Scratch databases for benchmarks: a temporary SQLite file, plus a throw-away PostgreSQL
database when FLEETWARD_TEST_PG names a server (created here, dropped afterwards)."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_databases(explicit: list[str] | None = None) -> Iterator[list[str]]:
    if explicit:
        yield explicit
        return
    with tempfile.TemporaryDirectory() as folder:
        urls = [f"sqlite:///{Path(folder) / 'bench.db'}"]
        server = os.environ.get("FLEETWARD_TEST_PG")
        name = f"fwbench_{secrets.token_hex(4)}"
        admin = server.replace("postgresql+psycopg://", "postgresql://") if server else ""
        if server:
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            urls.append(server.rsplit("/", 1)[0] + f"/{name}")
        try:
            yield urls
        finally:
            if server:
                import psycopg

                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
