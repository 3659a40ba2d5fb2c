"""``fleetward plan --server URL --head BRANCH``: fetch a proposal's published plan from a controller.

Made for the fleet repository's own CI: wait (``--sha``) until the controller has planned
exactly the pushed head, print the plan (markdown to post as a pull-request comment, or
JSON), and exit 1 when the proposal is invalid so the check fails. The API token comes
from ``--token-file`` or ``$FLEETWARD_TOKEN`` and is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from controller.errors import AccessDenied, ConfigError, NotFound, SourceUnavailable

ENV_TOKEN = "FLEETWARD_TOKEN"  # noqa: S105 - the variable's name, not a secret


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL", help="fetch a proposal's plan from this controller")
    parser.add_argument("--head", metavar="BRANCH",
                        help="with --server: the proposal branch (or pull/<n>/head, merge-requests/<n>/head)")
    parser.add_argument("--sha", metavar="SHA", help="with --server: wait until this head commit is planned")
    parser.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                        help="with --server: how long to wait for the plan (default 120)")
    parser.add_argument("--token-file", type=Path, metavar="FILE",
                        help=f"API token (viewer role is enough); default ${ENV_TOKEN}")


def _token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        try:
            return str(args.token_file.read_text(encoding="utf-8").strip())
        except OSError as error:
            raise ConfigError(f"cannot read --token-file: {error.strerror}") from None
    token = os.environ.get(ENV_TOKEN, "").strip()
    if not token:
        raise ConfigError("no API token", hint=f"set ${ENV_TOKEN} or pass --token-file "
                                               "('fleetward token create --role viewer')")
    return token


def run_remote_plan(args: argparse.Namespace) -> int:
    if not args.head:
        raise ConfigError("--server needs --head BRANCH")
    fmt = "markdown" if args.format in ("text", "markdown") else "json"
    url = f"{args.server.rstrip('/')}/api/plans/{quote(args.head, safe='/')}"
    deadline = time.monotonic() + max(0.0, args.wait)
    headers = {"Authorization": f"Bearer {_token(args)}"}
    with httpx.Client(headers=headers, timeout=30) as client:
        while True:
            try:
                response = client.get(url, params={"format": "json"})
            except httpx.HTTPError as error:
                raise SourceUnavailable(f"cannot reach {args.server}: {error}") from None
            if response.status_code == 401:
                raise AccessDenied("the controller refused the API token", hint="check $FLEETWARD_TOKEN")
            ready = response.status_code == 200 and (
                args.sha is None or response.json()["head"].startswith(args.sha))
            if ready:
                break
            if response.status_code not in (200, 404):
                raise SourceUnavailable(f"the controller answered {response.status_code}: {response.text[:200]}")
            if time.monotonic() >= deadline:
                raise NotFound(f"no plan for {args.head}" + (f" at {args.sha[:12]}" if args.sha else "")
                               + f" after {args.wait:.0f} s",
                               hint="is the branch a proposal (Fleet 'proposals' patterns) and pushed?")
            time.sleep(2)
    document = response.json()
    sys.stdout.write(document["markdown"] if fmt == "markdown" else response.text + "\n")
    return 0 if document["valid"] else 1
