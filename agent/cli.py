"""``fleetward-agent``: the command line of the endpoint agent.

Subcommands (their flags are a contract; scripts and the service unit use them)::

    fleetward-agent enroll --server URL --token TOKEN --data-dir DIR [--label k=v ...]
                           [--allow-insecure-http] [--force]
    fleetward-agent run --data-dir DIR [--once] [--format text|json]
    fleetward-agent inventory [--data-dir DIR]   (sections, hashes, failed sections, CPU seconds)

Exit codes:

==  =====================================================================
0   done (for ``run --once``: the cycle completed, whatever the jobs' results)
1   an unexpected error, or the controller answered outside the protocol
2   usage error (bad or missing flags)
3   configuration: not enrolled, a bad URL or label, data dir in use or unreadable
4   the controller rejected the credential or enrolment token: enrol again
5   the controller could not be reached or is busy: try again later
==  =====================================================================

This module is the only place that reads argv, sets up logging and signal
handlers, and builds :class:`~agent.settings.AgentSettings`. Errors are printed
as one ``error: ...`` line plus a ``hint: ...`` line; the credential and the
enrolment token are never printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from agent.cycle import Cycle, CycleReport, run_once, utc_now
from agent.enrolling import enroll, parse_labels
from agent.errors import (
    AgentError,
    ConfigError,
    CredentialRejected,
    InsecureUrl,
    TemporaryError,
)
from agent.inventory import Collectors, Inventory, collect_inventory
from agent.looping import ServiceLoop
from agent.receipts import Receipts
from agent.settings import AgentSettings
from agent.state import DataDir
from agent.throttling import run_at_low_priority
from agent.version import __version__

log = logging.getLogger("agent")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_CREDENTIAL = 4
EXIT_UNREACHABLE = 5

MAX_TOKEN_FILE_BYTES = 4096


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetward-agent",
        description="The Fleetward endpoint agent: enrols with a controller, reports inventory, and "
                    "runs the signed jobs the controller issues for this machine.",
        epilog="Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 configuration, 4 credential rejected "
               "(enrol again), 5 controller unreachable (try later).",
    )
    parser.add_argument("--version", action="version", version=f"fleetward-agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll_cmd = commands.add_parser(
        "enroll", help="enrol this machine with a controller",
        description="Exchange a client's enrolment token for this agent's identity and store it in "
                    "DIR/agent.json (mode 0600). Prints the agent id and client, never the credential.",
    )
    enroll_cmd.add_argument("--server", required=True, metavar="URL",
                            help="the controller's base URL, e.g. https://fleetward.example.com")
    token = enroll_cmd.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", metavar="TOKEN", help="the client's enrolment token")
    token.add_argument("--token-file", metavar="FILE", type=Path,
                       help="read the enrolment token from FILE (keeps it out of the process list)")
    enroll_cmd.add_argument("--data-dir", required=True, type=Path, metavar="DIR",
                            help="the agent's data directory (created if missing)")
    enroll_cmd.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                            help="a device label for selectors (repeatable), e.g. --label site=berlin")
    enroll_cmd.add_argument("--allow-insecure-http", action="store_true",
                            help="allow plain http:// to non-loopback hosts for the controller and "
                                 "artifacts (trusted networks only; stored in the agent's config)")
    enroll_cmd.add_argument("--force", action="store_true",
                            help="replace an existing enrolment in DIR with a new identity")
    _add_format(enroll_cmd)

    run_cmd = commands.add_parser(
        "run", help="run the agent (as a service, or one cycle with --once)",
        description="Check in, report inventory, lease, verify, run and report jobs. Without --once it "
                    "loops until SIGINT/SIGTERM, at the controller's interval with jitter and backoff.",
    )
    run_cmd.add_argument("--data-dir", required=True, type=Path, metavar="DIR",
                         help="the agent's data directory (as given to enroll)")
    run_cmd.add_argument("--once", action="store_true",
                         help="do exactly one full cycle, print what it did and exit")
    _add_format(run_cmd)
    run_cmd.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")

    inventory_cmd = commands.add_parser(
        "inventory", help="print this machine's inventory as JSON",
        description="Collect facts, installed software, hardware, licence keys (shown without the key), "
                    "the network around the machine and (with --data-dir) the packages Fleetward installed, "
                    "and print them as JSON with each section's hash and CPU time. Needs no enrolment and "
                    "sends nothing.",
    )
    inventory_cmd.add_argument("--data-dir", type=Path, metavar="DIR",
                               help="include the managed packages recorded in DIR/receipts and scan what the "
                                    "controller's config held in DIR allows")
    return parser


def _add_format(command: argparse.ArgumentParser) -> None:
    command.add_argument("--format", choices=("text", "json"), default="text",
                         help="output format (default: text)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO if args.command == "run" and not args.once
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.command == "enroll":
            return _enroll(args, sys.stdout)
        if args.command == "run":
            return _run(args, sys.stdout)
        return _inventory(args, sys.stdout)
    except AgentError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _fail(exc: AgentError) -> int:
    print(f"error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)
    if isinstance(exc, CredentialRejected):
        return EXIT_CREDENTIAL
    if isinstance(exc, TemporaryError):
        return EXIT_UNREACHABLE
    if isinstance(exc, ConfigError | InsecureUrl):
        return EXIT_CONFIG
    return EXIT_FAILURE


def _read_token(args: argparse.Namespace) -> str:
    if args.token is not None:
        return str(args.token)
    path: Path = args.token_file
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TOKEN_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"--token-file {path}: {exc.strerror}", hint="check the path") from None
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise ConfigError(f"--token-file {path} is too large to hold a token")
    return raw.decode("utf-8", "replace").strip()


def _enroll(args: argparse.Namespace, out: TextIO) -> int:
    labels = parse_labels(args.label)
    token = _read_token(args)
    data_dir = DataDir(args.data_dir)
    with data_dir.locked():
        config = enroll(data_dir, server=args.server, token=token, labels=labels,
                        allow_insecure_http=args.allow_insecure_http, force=args.force, clock=utc_now)
    if args.format == "json":
        _print_json({"agent_id": config.agent_id, "client": config.client, "server": config.server,
                     "data_dir": str(data_dir.root)}, out)
    else:
        print(f"enrolled as agent {config.agent_id}", file=out)
        print(f"client: {config.client}", file=out)
        print(f"server: {config.server}", file=out)
        print(f"next: fleetward-agent run --data-dir {data_dir.root}", file=out)
    return EXIT_OK


def _settings(data_dir: Path) -> AgentSettings:
    """The settings, with the environment's switches read here, at the edge."""
    reverse_dns = os.environ.get("FLEETWARD_AGENT_REVERSE_DNS", "on").strip().lower() not in ("0", "off", "no", "false")
    return AgentSettings(data_dir=data_dir, reverse_dns=reverse_dns)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    settings = _settings(args.data_dir)
    if args.once:
        report = run_once(settings)
        if args.format == "json":
            _print_json(report.as_json(), out)
        else:
            _print_report(report, out)
        return EXIT_OK
    data_dir = DataDir(settings.data_dir)
    data_dir.load_config()  # fail fast, before the lock, when not enrolled
    loop = ServiceLoop(settings, Cycle(settings))

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; finishing the current step", signal.Signals(signum).name)
        loop.stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with data_dir.locked():
        log.info("fleetward-agent %s running on %s", __version__, data_dir.root)
        loop.run()
    return EXIT_OK


def _inventory(args: argparse.Namespace, out: TextIO) -> int:
    data_dir = DataDir(args.data_dir) if args.data_dir else None
    receipts = Receipts(data_dir.receipts_dir) if data_dir is not None else None
    held = data_dir.load_controller_config() if data_dir is not None else None
    collectors = Collectors.for_settings(_settings(args.data_dir or Path()))
    inventory, used = run_at_low_priority(
        lambda: collect_inventory(receipts, collectors, discovery=held.discovery if held is not None else None))
    _print_json(_inventory_document(inventory, used), out)
    return EXIT_OK


def _inventory_document(inventory: Inventory, used: float) -> dict[str, Any]:
    """What ``fleetward-agent inventory`` prints: the sections, their hashes, failures and CPU seconds."""
    document: dict[str, Any] = {str(name): data for name, data in inventory.section_data().items()}
    for licence in document.get("licenses", []):
        # The key is a secret: it goes to the controller (sealed there) but never to a terminal or a log.
        licence["key"] = "(hidden)" if licence.get("key") else ""
    document["hashes"] = inventory.hashes()
    document["failed"] = list(inventory.failed)
    document["cpu_seconds"] = {"total": round(used, 3)} | {
        str(name): round(seconds, 3) for name, seconds in inventory.cpu_seconds.items()}
    return document


def _print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _print_report(report: CycleReport, out: TextIO) -> None:
    print(f"agent {report.agent_id} (client {report.client}) at {report.server}", file=out)
    if report.checkin is not None:
        pending = "jobs pending" if report.checkin.jobs_pending else "no jobs pending"
        print(f"check-in: {pending}; inventory wanted: {report.checkin.inventory}", file=out)
    if report.resent:
        print(f"re-sent {len(report.resent)} queued result(s): {', '.join(report.resent)}", file=out)
    if not report.jobs:
        print("jobs: none", file=out)
    for job in report.jobs:
        what = " ".join(part for part in (job.action, job.package, job.version) if part) or "(unreadable job)"
        detail = job.reason or job.message
        notes = [note for note, on in (("re-sent", job.resent), ("not yet delivered", not job.delivered))
                 if on]
        suffix = f" [{', '.join(notes)}]" if notes else ""
        detail = f" ({detail})" if detail else ""
        print(f"job {job.job_id}: {what}: {job.result}{detail}{suffix}", file=out)
    if report.config_fetched:
        print(f"controller config: fetched version {report.config_version}", file=out)
    if report.inventory_sent:
        kind = "full" if report.inventory_full else "changed"
        print(f"inventory ({kind}): sent {', '.join(report.inventory_sent)}; accepted "
              f"{', '.join(report.inventory_accepted) or 'none'}", file=out)
    else:
        print("inventory: nothing to send", file=out)
    if report.inventory_failed:
        print(f"inventory: could not collect {', '.join(report.inventory_failed)} (see the log)", file=out)
    if report.stopped_early:
        print("stopped before every leased job ran", file=out)
    print(f"outbox: {report.outbox} result(s) waiting; highest finished seq {report.seen_seq}; "
          f"next check-in in {report.interval_seconds} s", file=out)


if __name__ == "__main__":
    sys.exit(main())
