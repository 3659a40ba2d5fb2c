"""Options several subcommands share, and where their defaults come from.

The environment is read here and nowhere deeper: ``FLEETWARD_DATA_DIR`` and
``FLEETWARD_DB`` stand in for ``--data-dir`` and ``--db``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from controller.settings import sqlite_url

ENV_DATA_DIR = "FLEETWARD_DATA_DIR"
ENV_DB = "FLEETWARD_DB"


def default_data_dir() -> Path:
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR])
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "fleetward"


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL",
        help=f"SQLAlchemy database URL, e.g. postgresql+psycopg://user@host/fleetward "
             f"(default: ${ENV_DB}, else SQLite at <data dir>/fleetward.db)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", type=Path,
        help=f"controller state: database, keys, repository mirror "
             f"(default: ${ENV_DATA_DIR}, else ~/.local/share/fleetward)",
    )


def data_dir(args: argparse.Namespace) -> Path:
    chosen: Path | None = getattr(args, "data_dir", None)
    return (chosen or default_data_dir()).expanduser().resolve()


def database_url(args: argparse.Namespace) -> str:
    chosen: str | None = getattr(args, "db", None) or os.environ.get(ENV_DB)
    return chosen or sqlite_url(data_dir(args))


def explicit_database_url(args: argparse.Namespace) -> str | None:
    """The database the user pointed at (--db, --data-dir or $FLEETWARD_DB), or None."""
    if getattr(args, "db", None) or getattr(args, "data_dir", None) or os.environ.get(ENV_DB):
        return database_url(args)
    return None
