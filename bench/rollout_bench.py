"""Rollout orchestration for 10,000 devices: one full reconcile per wave, timed step by step.

Run: ``python bench/rollout_bench.py [--agents 10000] [--runs 3] [--db URL ...]``.
Without ``--db`` it uses a temporary SQLite file, plus PostgreSQL when FLEETWARD_TEST_PG is set
(a scratch database is created there and dropped afterwards).

Seeds N agents in 50 clients with version 1.0 of one package installed, then rolls version 2.0
out through one MSP-wide Deployment with the default waves (1 device, 10 %, 50 %, 100 %).
Each pass does what the reconciler's full pass does: ``read_observed`` (agents, managed software,
open jobs, failures and the stored rollout states), ``plan`` (targeting, deciding, wave
computation, windows), ``issue_jobs`` (job emission), ``write_outcomes`` (per-device status with
waves) and ``write_rollouts`` (the per-wave roll-up and history). Between passes every issued job
is marked succeeded and the device reports 2.0 (plain SQL, not timed), so the next pass starts
the next wave. Prints each pass and, over ``--runs`` runs, the median and the worst pass against
the target (<= 5 s per reconcile). Asserts nothing.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, insert, update

from controller.desired import DesiredState, Loaded, SourceLocation
from controller.planning import plan
from controller.reconciling import gc_paused
from controller.store import Store, issue_jobs, read_observed, write_outcomes, write_rollouts
from controller.store.tables import agents, jobs, managed_software
from schemas.kinds import KINDS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_databases

START = datetime(2026, 11, 27, 12, tzinfo=UTC)
STEPS = ("read", "plan", "issue", "outcomes", "rollouts")


def desired_state() -> DesiredState:
    def make(kind: str, name: str, spec: dict) -> Loaded:
        resource = KINDS[kind].model_validate({"apiVersion": "fleetward/v1", "kind": kind,
                                               "metadata": {"name": name}, "spec": spec})
        return Loaded(resource, None, SourceLocation(f"{kind.lower()}s/{name}.yaml"))

    return DesiredState(revision="b" * 40, resources={
        "DeviceGroup": {(None, "linux"): make("DeviceGroup", "linux", {"selector": {"matchLabels": {"os": "linux"}}})},
        "Package": {(None, "tool"): make("Package", "tool", {
            "version": "2.0", "installers": [{"os": "linux", "type": "archive", "url": "https://a.example/tool-2.0.tar",
                                              "sha256": "0" * 64}]})},
        "Deployment": {(None, "tool"): make("Deployment", "tool", {"package": "tool", "targets": {"group": "linux"}})},
    })


def seed(store: Store, count: int) -> None:
    agent_rows, managed_rows = [], []
    for index in range(count):
        agent_id = f"a_{index:032x}"
        client = f"client-{index % 50:02d}"
        agent_rows.append({
            "id": agent_id, "client": client, "hostname": f"host-{index:05d}", "labels": {},
            "facts": {"hostname": f"host-{index:05d}", "os": "linux", "arch": "x86_64"},
            "credential_hash": secrets.token_hex(32), "enrolled_at": START, "last_seen_at": START,
            "last_job_seq": 0, "inventory_wanted": "none", "inventory_hashes": {},
        })
        managed_rows.append({"agent_id": agent_id, "package": "tool", "client": client, "version": "1.0",
                             "sha256": "", "installed_at": START, "reported_at": START})
    with store.write() as session:
        for table, rows in ((agents, agent_rows), (managed_software, managed_rows)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(table), rows[start:start + 5000])


def succeed(store: Store, job_ids: list[str], agent_ids: list[str], now: datetime) -> None:
    """Every issued job succeeded and its device now reports 2.0 (what agents' reports would write)."""
    if not job_ids:
        return
    with store.write() as session:
        session.execute(update(jobs).where(jobs.c.id == bindparam("job")).values(
            state="succeeded", finished_at=now, updated_at=now), [{"job": job_id} for job_id in job_ids])
        session.execute(update(managed_software).where(managed_software.c.agent_id == bindparam("agent"),
                                                       managed_software.c.package == "tool")
                        .values(version="2.0", reported_at=now), [{"agent": agent_id} for agent_id in agent_ids])


def rollout(url: str, count: int) -> list[dict[str, float]]:
    """One whole rollout on a fresh store; the timings of each pass."""
    store = Store.open(url)
    try:
        seed(store, count)
        desired = desired_state()
        passes: list[dict[str, float]] = []
        now = START
        for _pass in range(8):
            timing: dict[str, float] = {}
            t0 = time.perf_counter()
            observed = read_observed(store, now=now)
            t1 = time.perf_counter()
            with gc_paused():
                result = plan(desired, observed, now)
            t2 = time.perf_counter()
            issued = issue_jobs(store, result, desired.revision, now, job_ttl=timedelta(hours=1))
            t3 = time.perf_counter()
            write_outcomes(store, result.outcomes, None, now)
            t4 = time.perf_counter()
            write_rollouts(store, result.rollouts, desired, "bench <bench@example.invalid>", now)
            t5 = time.perf_counter()
            timing.update(read=t1 - t0, plan=t2 - t1, issue=t3 - t2, outcomes=t4 - t3, rollouts=t5 - t4,
                          total=t5 - t0, jobs=len(issued))
            (report,) = result.rollouts
            timing["wave"] = report.state.wave + 1
            passes.append(timing)
            succeed(store, list(issued), [job.agent_id for job in result.jobs], now)
            now += timedelta(minutes=5)
            if report.state.completed and not issued:
                break
        return passes
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", action="append", default=[], help="database URL (repeatable)")
    args = parser.parse_args()
    for run in range(args.runs):
        with scratch_databases(args.db) as urls:
            for url in urls:
                passes = rollout(url, args.agents)
                engine = url.split(":", 1)[0]
                print(f"{engine} run {run + 1}: {args.agents} devices, {len(passes)} full passes")
                for number, timing in enumerate(passes, start=1):
                    steps = "  ".join(f"{name} {timing[name] * 1000:5.0f}" for name in STEPS)
                    print(f"  pass {number}: wave {timing['wave']:.0f}, {timing['jobs']:5.0f} jobs  {steps}  "
                          f"total {timing['total'] * 1000:6.0f} ms")
                totals = [timing["total"] for timing in passes]
                print(f"  median pass {statistics.median(totals) * 1000:.0f} ms, worst {max(totals) * 1000:.0f} ms"
                      f"   target <= 5000 ms per reconcile")


if __name__ == "__main__":
    main()
