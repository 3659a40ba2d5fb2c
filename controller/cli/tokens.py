"""``fleetward token``: enrolment tokens for a client's devices, API tokens for people and tools."""

from __future__ import annotations

import argparse
import getpass
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.cli.options import add_store_options, database_url
from controller.errors import ConfigError
from controller.store import Store, create_api_token, create_enrollment_token, list_tokens, revoke_token

_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta | None:
    """'30m', '12h', '7d', '2w', or 'never' (None)."""
    if text == "never":
        return None
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"--expires {text!r} is not a duration", hint="use 30m, 12h, 7d, 2w or never")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def register(commands: Any) -> None:
    token = commands.add_parser("token", help="create, list and revoke tokens")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create", help="create a token and print it (nothing else)",
        description="With --client alone: an enrolment token for that client's devices "
                    "('fleetward-agent enroll --token ...'). With --role: an API token for the operator "
                    "API, optionally scoped to one client. The token is printed once; only its hash is "
                    "stored.")
    create.add_argument("--client", metavar="NAME", help="the client (tenant) the token belongs to")
    create.add_argument("--role", choices=["admin", "operator", "viewer"],
                        help="make an API token with this role instead of an enrolment token")
    create.add_argument("--name", metavar="NAME",
                        help="who uses the API token (shown in audit and as commit author); "
                             "default: the current user")
    create.add_argument("--expires", default=None, metavar="DURATION",
                        help="30m, 12h, 7d, 2w or never (default: 7d for enrolment tokens, never for "
                             "API tokens)")
    create.add_argument("--max-uses", type=int, metavar="N", help="enrolment token: at most N devices")
    add_store_options(create)
    create.set_defaults(handler=run_create)

    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    add_store_options(listing)
    listing.set_defaults(handler=run_list)

    revoke = actions.add_parser("revoke", help="revoke a token by id (e_… or t_…)")
    revoke.add_argument("token_id", metavar="ID")
    add_store_options(revoke)
    revoke.set_defaults(handler=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.role is None and not args.client:
        raise ConfigError("token create needs --client NAME (enrolment token) or --role ROLE (API token)")
    store = Store.open(database_url(args))
    try:
        if args.role is None:
            expires = parse_duration(args.expires or "7d")
            token = create_enrollment_token(store, args.client, expires_in=expires, max_uses=args.max_uses,
                                            created_by=f"cli:{getpass.getuser()}", now=now)
        else:
            if args.max_uses is not None:
                raise ConfigError("--max-uses applies to enrolment tokens only")
            expires = parse_duration(args.expires or "never")
            token = create_api_token(store, name=args.name or getpass.getuser(), role=args.role,
                                     client=args.client, expires_in=expires, now=now)
    finally:
        store.close()
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = Store.open(database_url(args))
    try:
        rows = list_tokens(store)
    finally:
        store.close()
    for row in rows:
        print("\t".join(str(part) for part in row))
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    store = Store.open(database_url(args))
    try:
        revoke_token(store, args.token_id, now=datetime.now(UTC))
    finally:
        store.close()
    print(f"revoked {args.token_id}")
    return 0
