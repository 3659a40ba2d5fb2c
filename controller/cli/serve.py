"""``fleetward serve``: run the controller until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from controller.cli.options import add_store_options, data_dir, database_url
from controller.errors import ConfigError
from controller.serving import Controller
from controller.settings import DEFAULT_API_THREADS, DEFAULT_BRANCH, DEFAULT_LISTEN, ControllerSettings, parse_listen

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="run the controller: fetch, validate, plan, serve agents, write status",
        description="Watch the fleet repository, apply valid revisions of --branch, serve the agent "
                    "protocol and the operator API, and commit status to the status branch.")
    serve.add_argument("--repo", required=True, metavar="URL_OR_PATH",
                       help="the fleet repository: a local path or any URL git understands")
    serve.add_argument("--branch", default=DEFAULT_BRANCH, help="the branch to apply (default: main)")
    serve.add_argument("--path", default="", metavar="SUBDIR", help="the fleet lives in this folder")
    add_store_options(serve)
    serve.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                       help="address of the HTTP API (default: 127.0.0.1:8080)")
    serve.add_argument("--interval", type=float, default=30.0, metavar="SECONDS",
                       help="fetch the repository this often (default: 30); local paths are also "
                            "watched and apply within ~2 s")
    serve.add_argument("--status-interval", type=float, default=60.0, metavar="SECONDS",
                       help="commit status at most this often (default: 60)")
    serve.add_argument("--checkin-interval", type=int, default=60, metavar="SECONDS",
                       help="how often agents check in (they add jitter; default: 60)")
    serve.add_argument("--warranty-interval", type=float, default=900.0, metavar="SECONDS",
                       help="look for warranties to refresh this often (default: 900); only new serials, "
                            "stale cache entries (older than the Fleet's warranty.cacheDays) and retries "
                            "that are due are sent to the vendors")
    serve.add_argument("--gnupg-home", type=Path, metavar="DIR",
                       help="GnuPG home with the public keys of GPG signers in allowedSigners "
                            "(SSH signers need nothing)")
    serve.add_argument("--webhook-secret-file", type=Path, metavar="FILE",
                       help="file holding the shared secret for POST /api/hooks/git (GitHub/Gitea HMAC, "
                            "GitLab token); else the Fleet's sealed webhookSecret")
    serve.add_argument("--api-threads", type=int, default=DEFAULT_API_THREADS, metavar="N",
                       help=f"run at most N blocking API handlers at once (default: {DEFAULT_API_THREADS}); "
                            "more requests wait their turn. Raise it only if requests queue while the "
                            "CPU and the database idle: the threads share one interpreter lock")
    serve.add_argument("--allow-insecure-http", action="store_true",
                       help="allow listening on a non-loopback address without TLS in front (labs only)")
    serve.set_defaults(handler=run_serve)


def settings_from(args: argparse.Namespace) -> ControllerSettings:
    host, _port = parse_listen(args.listen)
    if host not in _LOOPBACK and not args.allow_insecure_http:
        raise ConfigError(
            f"--listen {args.listen} is not a loopback address and the API speaks plain HTTP",
            hint="put a TLS-terminating proxy in front and listen on 127.0.0.1, or pass "
                 "--allow-insecure-http for a lab")
    if min(args.interval, args.status_interval, args.checkin_interval, args.warranty_interval) <= 0:
        raise ConfigError("intervals must be positive numbers of seconds")
    if not 1 <= args.api_threads <= 256:
        raise ConfigError(f"--api-threads {args.api_threads} is out of range", hint="use 1 to 256 (default: "
                                                                                   f"{DEFAULT_API_THREADS})")
    return ControllerSettings(
        data_dir=data_dir(args), repo=args.repo, branch=args.branch, path=args.path,
        db_url=database_url(args), listen=args.listen, fetch_interval=args.interval,
        status_interval=args.status_interval, checkin_interval=args.checkin_interval,
        allow_insecure_http=args.allow_insecure_http, webhook_secret_file=args.webhook_secret_file,
        gnupg_home=args.gnupg_home, warranty_interval=args.warranty_interval, api_threads=args.api_threads,
    )


def run_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    controller = Controller(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

        def ready(url: str) -> None:
            print(f"fleetward serving {url} (docs: {url}/docs); applying {settings.repo} "
                  f"branch {settings.branch}; data in {settings.data_dir}", file=sys.stderr)

        await controller.run(stop, ready=ready)

    asyncio.run(main())
    return 0
