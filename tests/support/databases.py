"""PostgreSQL as an operator sees it fail: every server connection to a database cut at once."""

from __future__ import annotations


def terminate_backends(pg_url: str) -> int:
    """Cut every server connection to ``pg_url``'s database, as a server restart does; how many were cut."""
    import psycopg

    base, _, name = pg_url.replace("postgresql+psycopg://", "postgresql://").rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as admin:
        return len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall())
