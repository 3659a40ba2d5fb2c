"""``fleetward db upgrade``: apply the database migrations (``serve`` also does it on start)."""

from __future__ import annotations

import argparse
from typing import Any

from controller.cli.options import add_store_options, database_url
from controller.store import upgrade


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="apply every pending migration",
                            description="Bring the database schema up to date (idempotent).")
    add_store_options(up)
    up.set_defaults(handler=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    url = database_url(args)
    upgrade(url)
    print("database is up to date")
    return 0
