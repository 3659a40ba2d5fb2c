"""``fleetward demo``: the whole loop on this machine, on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from controller.demo.running import DemoResult, run_demo


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="run a demo fleet end to end on this machine",
        description="Create a fleet repository from the bundled examples, run the controller on SQLite "
                    "with three sandboxed local agents in two clients until they converge, raise a real "
                    "disk-space alert that becomes a ticket at a local ConnectWise stand-in, apply a policy "
                    "baseline whose failing check enforce mode remediates, roll a package out in three waves "
                    "and halt and roll back a bad version of it, and print what was deployed, the ticket, "
                    "compliance before and after, the rollout and what the status branch says.")
    demo.add_argument("--workdir", type=Path, metavar="DIR",
                      help="where to put the repository, agents and database (default: a new temp dir)")
    demo.add_argument("--keep-running", action="store_true",
                      help="keep the controller and agents running until Ctrl-C and print the API address")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    result = run_demo(workdir=args.workdir, keep_running=args.keep_running, report=print_summary)
    return 0 if result.converged else 1


def print_summary(result: DemoResult) -> None:
    print()
    print("Converged." if result.converged else "Did NOT converge within the time limit.")
    print(f"Deployments after {result.rounds} agent round{'s' if result.rounds != 1 else ''}:")
    for deployment in result.deployments:
        print(f"  {deployment['id']}: {deployment['package']} {deployment['ensure']} - "
              f"{deployment['converged']}/{deployment['devices']} devices converged")
    print("Software on the agents:")
    for agent, software in result.agent_software.items():
        print(f"  {agent}: {', '.join(software) or '(none)'}")
    print("Inventory the agents reported (GET /api/agents/{id}/inventory/...):")
    for line in result.inventory:
        print(f"  {line}")
    print("Warranty lookup (GET /api/assets/warranty/{serial}?refresh=true):")
    for line in result.warranty:
        print(f"  {line}")
    print("Disk-space alert to ticket (GET /api/alerts, GET /api/service-requests, the PSA's own API):")
    for line in result.disk_alert:
        print(f"  {line}")
    print("Policy baseline, audit then enforce (GET /api/compliance, GET /api/policies/{id}/history):")
    for line in result.policy_baseline:
        print(f"  {line}")
    print("Staged rollout (GET /api/deployments/{id}/status, POST /api/deployments/{id}/rollback):")
    for line in result.rollout:
        print(f"  {line}")
    print("Open alerts:")
    for line in result.alerts or ["(none)"]:
        print(f"  {line}")
    print()
    print("The status branch says (git show fleetward/status:README.md):")
    print("  " + "\n  ".join(result.status_readme.rstrip().splitlines()))
    print()
    print(f"Repository: {result.repo}")
    print(f"  git -C {result.repo} log --oneline fleetward/status")
    print(f"Workspace:  {result.workdir}")
