"""``fleetward``: parse arguments, build settings, run one subcommand, map errors to exit codes.

Exit codes: 0 success; 1 the command ran and found problems (``validate``); 2 usage or
configuration error; 3 a temporary failure (repository or database unreachable).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from controller.cli import ci_comment, database, demo, repository, seal, serve, tokens
from controller.errors import FleetwardError, TemporaryError

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_TEMPORARY = 3


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("fleetward")
    except PackageNotFoundError:
        return "0+source"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetward",
        description="Fleetward controller: endpoint desired state as YAML in git, applied to your "
                    "clients' fleets.",
        epilog="Run 'fleetward demo' to see the whole loop on this machine.",
    )
    parser.add_argument("--version", action="version", version=f"fleetward {version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (serve, demo, repository, tokens, seal, database, ci_comment):
        module.register(commands)
    return parser


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except FleetwardError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return EXIT_TEMPORARY if isinstance(error, TemporaryError) else EXIT_USAGE
    return code


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
