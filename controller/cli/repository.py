"""Subcommands that work on a fleet repository: init, validate, plan, schemas export."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemas
from controller.bundled import bundled_dir
from controller.cli.options import ENV_DB, add_store_options, explicit_database_url
from controller.cli.remote_plan import add_remote_options, run_remote_plan
from controller.errors import RevisionInvalid
from controller.licensing import unmatched_rules
from controller.loading import DirectorySource, FileSource, GitTreeSource, load_revision
from controller.observed import ObservedState
from controller.planning import plan
from controller.reports.plans import render_plan
from controller.scaffolding import create_repo_from
from controller.store import Store, read_observed
from schemas.exporting import all_schemas


def register(commands: Any) -> None:
    init = commands.add_parser(
        "init", help="create a new fleet repository from the template",
        description="Create DIR as a git repository holding the fleet-repo template, the JSON "
                    "Schemas for editors, and a first commit.")
    init.add_argument("dir", type=Path, metavar="DIR")
    init.set_defaults(handler=run_init)

    validate = commands.add_parser(
        "validate", help="check a fleet repository; one path:line:col: message per problem",
        description="Validate the fleet in DIR (the working tree, uncommitted edits included, or a "
                    "commit with --rev). Exit 0 when valid, 1 with one 'path:line:col: message' line "
                    "per problem otherwise.")
    validate.add_argument("dir", nargs="?", type=Path, default=Path(), metavar="DIR")
    validate.add_argument("--rev", help="validate this commit instead of the working tree")
    validate.add_argument("--path", default="", metavar="SUBDIR", help="the fleet lives in this folder")
    validate.add_argument("--db", metavar="URL",
                          help="also warn about rules that match nothing in this fleet's inventory (e.g. a "
                               "License whose consumedBy matches no installed software)")
    validate.set_defaults(handler=run_validate)

    plan_cmd = commands.add_parser(
        "plan", help="show what a revision would do to the fleet",
        description="Compute the plan of a revision against the observed state in the database: per "
                    "client, which devices get which action. Without --db/--data-dir (or "
                    f"${ENV_DB}), plans against an empty fleet. With --server and --head, fetch the plan a "
                    "controller published for a proposal instead (for the fleet repository's CI); exit 1 "
                    "when the proposal is invalid.")
    plan_cmd.add_argument("--repo", type=Path, default=Path(), metavar="DIR")
    plan_cmd.add_argument("--rev", default="HEAD", help="commit, branch or tag (default HEAD)")
    plan_cmd.add_argument("--path", default="", metavar="SUBDIR")
    plan_cmd.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    add_store_options(plan_cmd)
    add_remote_options(plan_cmd)
    plan_cmd.set_defaults(handler=run_plan)

    schemas_cmd = commands.add_parser("schemas", help="JSON Schemas of the resource kinds")
    schema_actions = schemas_cmd.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    export = schema_actions.add_parser(
        "export", help="write <kind>.schema.json files",
        description="Write one JSON Schema per kind plus resource.schema.json (any kind).")
    export.add_argument("--out", type=Path, default=Path(schemas.__file__).parent / "json", metavar="DIR",
                        help="target folder (default: the schemas package's json/ folder)")
    export.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the files in --out are missing or stale")
    export.set_defaults(handler=run_schemas_export)


def run_init(args: argparse.Namespace) -> int:
    target: Path = args.dir.resolve()
    sha = create_repo_from(bundled_dir("fleet_repo_template"), target,
                           message="Start the fleet repository (fleetward init)")
    print(f"Created fleet repository {target} at commit {sha[:12]}.")
    print("Next: add a client under clients/, run 'fleetward validate', commit, then "
          f"'fleetward serve --repo {target}'.")
    return 0


def _source(repo: Path, rev: str | None, subdir: str) -> FileSource:
    if rev:
        return GitTreeSource(repo, rev, subdir)
    return DirectorySource(repo / subdir if subdir else repo)


def run_validate(args: argparse.Namespace) -> int:
    source = _source(args.dir, args.rev, args.path)
    try:
        desired = load_revision(source)
    except RevisionInvalid as invalid:
        for problem in invalid.problems:
            print(problem)
        count = len(invalid.problems)
        print(f"{count} problem{'s' if count != 1 else ''}; nothing was applied.", file=sys.stderr)
        return 1
    if args.db:
        store = Store.open(args.db)
        try:
            for licence, warning in unmatched_rules(store, desired):
                location = licence.location
                print(f"warning: {location.path}:{location.line}:{location.column}: {warning}", file=sys.stderr)
        finally:
            store.close()
    resources = sum(1 for _ in desired.all_resources())
    print(f"valid: {resources} resource{'s' if resources != 1 else ''} in {len(desired.clients)} "
          f"client{'s' if len(desired.clients) != 1 else ''}", file=sys.stderr)
    return 0


def run_plan(args: argparse.Namespace) -> int:
    if args.server:
        return run_remote_plan(args)
    try:
        desired = load_revision(GitTreeSource(args.repo, args.rev, args.path))
    except RevisionInvalid as invalid:
        for problem in invalid.problems:
            print(problem)
        print(f"{invalid.message}; no plan.", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    observed = ObservedState()
    url = explicit_database_url(args)
    if url is not None:
        store = Store.open(url)
        try:
            observed = read_observed(store, now=now)
        finally:
            store.close()
    result = plan(desired, observed, now)
    hostnames: dict[str, str] = {agent_id: agent.hostname for agent_id, agent in observed.agents.items()}
    sys.stdout.write(render_plan(result, args.format, hostnames=hostnames, devices=len(observed.agents)))
    return 0


def run_schemas_export(args: argparse.Namespace) -> int:
    out: Path = args.out
    wanted = {name: json.dumps(schema, indent=2, sort_keys=True) + "\n"
              for name, schema in all_schemas().items()}
    if args.check:
        stale = [name for name, text in wanted.items()
                 if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"{out / name}: stale or missing; run 'fleetward schemas export'")
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        (out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} schema files to {out}")
    return 0
