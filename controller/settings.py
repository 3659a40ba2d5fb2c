"""One typed settings object for the controller, built once at the edge (the CLI).

Nothing below the CLI reads the environment; everything takes a
:class:`ControllerSettings` (or the parts of it it needs) as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from controller.errors import ConfigError

DEFAULT_BRANCH = "main"
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_API_THREADS = 8
"""The API's handler threads. Few on purpose: they share one interpreter lock, and with 40 (the
server's default) a storm of agent reports kept every thread runnable, so each thread's return from
a database round trip waited behind dozens of others for the lock. The ticket worker, one thread
among them, fell 20-40 s behind a 10,000-alerts-a-minute storm on PostgreSQL; with 8 it kept up
within a second (bench/README.md). Requests beyond them wait in the event loop, which costs nothing."""
BACKGROUND_CONNECTIONS = 8
"""Database connections kept for the controller's own threads (ticket worker, status, outbox, ingesters)."""


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'fleetward.db').resolve()}"


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"--listen {value!r} is not HOST:PORT", hint="for example 127.0.0.1:8080")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class ControllerSettings:
    data_dir: Path
    repo: str = ""
    """A local path or any URL git understands."""
    branch: str = DEFAULT_BRANCH
    path: str = ""
    """Folder inside the repository that holds the fleet (empty: the root)."""
    db_url: str = ""
    """SQLAlchemy URL; empty means SQLite at ``<data_dir>/fleetward.db``."""
    listen: str = DEFAULT_LISTEN
    fetch_interval: float = 30.0
    status_interval: float = 60.0
    full_reconcile_interval: float = 300.0
    checkin_interval: int = 60
    """Seconds agents wait between check-ins (they add jitter)."""
    job_ttl: float = 24 * 3600.0
    """A job not finished this long after it was issued expires."""
    lease_ttl: float = 15 * 60.0
    """A leased job with no event for this long is handed out again."""
    max_deliveries: int = 5
    allow_insecure_http: bool = False
    """Serve agents over plain http on a non-loopback address (tests/labs only)."""
    watch_local: bool = True
    """For a local repository, also watch its refs (commits apply within ~2 s without a fetch timer)."""
    gnupg_home: Path | None = None
    """A GnuPG home holding the public keys of GPG signers (SSH signers need nothing)."""
    warranty_interval: float = 900.0
    """Seconds between warranty refreshes (only new, stale or retry-due serials are looked up)."""
    webhook_secret_file: Path | None = None
    """A file holding the webhook secret (else the Fleet's sealed webhookSecret is used)."""
    api_threads: int = DEFAULT_API_THREADS
    """Threads that run the API's blocking handlers (database work) at once; more requests wait their turn."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.db_url or sqlite_url(self.data_dir)

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_listen(self.listen)
