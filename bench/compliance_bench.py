"""Compliance roll-up for 10,000 agents x 30 policies, against a bare GROUP BY over the same rows.

Run: ``python bench/compliance_bench.py [--agents 10000] [--runs 7] [--db URL ...]``.
Without ``--db`` it uses a temporary SQLite file, plus PostgreSQL when FLEETWARD_TEST_PG is set
(a scratch database is created there and dropped afterwards).

Seeds N agents in 50 clients, each the target of 30 policies (20 MSP-wide, 10 of its client's:
300,000 assignments for 10,000 agents) and a member of two device groups (one MSP-wide, one of
four per client). 85 % of the pairs have a current result (80 % compliant, 12 % non-compliant,
5 % error, 3 % not applicable), 5 % only a result for an older policy version and 10 % none: those
15 % must count as unknown. Rows are written with plain inserts (not timed), as ingest leaves them (an assignment holds
its current status, None when unknown).

Times, median of ``--runs`` after one warm-up: the whole-fleet roll-up (``GET /api/compliance``
without filters), one client's, one MSP-wide policy's, the status branch's per-client table
(``client_policy_counts``), and as the baseline a bare ``SELECT agent_id, COUNT(*) ... GROUP BY
agent_id`` over the assignments (one pass over the same 300,000 rows, no join, no processing).
Prints each figure and its ratio to the baseline. Then what keeping ``policy_assignments.status``
costs the writers: the reconciler's ``write_assignments`` for the whole fleet when one MSP-wide
policy changes version (10,000 assignments moved, their status looked up again), and
``store_policy_results`` for one agent's report of 30 results. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from controller.policies.compliance import ComplianceFilter, client_policy_counts, compliance
from controller.store import Store
from controller.store.policies import Assignment, GroupMember, store_policy_results, write_assignments
from controller.store.tables import agents, device_group_members, policy_assignments, policy_compliance
from schemas.protocol import CheckOutcome, PolicyResult

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_databases

START = datetime(2026, 11, 27, 12, tzinfo=UTC)
CLIENTS = 50
SHARED_POLICIES = 20
CLIENT_POLICIES = 10
BATCH = 5000


def _status(number: int) -> str | None:
    """The current status of pair ``number``: None for no current result, "stale" for an old version."""
    bucket = number % 100
    if bucket < 10:
        return None
    if bucket < 15:
        return "stale"
    share = (number * 7919) % 100
    return ("compliant" if share < 80 else "non_compliant" if share < 92 else "error" if share < 97
            else "not_applicable")


def seed(store: Store, count: int) -> int:
    """N agents with their assignments, group memberships and current results; returns the pair count."""
    agent_rows: list[dict[str, Any]] = []
    member_rows: list[dict[str, Any]] = []
    assignment_rows: list[dict[str, Any]] = []
    result_rows: list[dict[str, Any]] = []
    for index in range(count):
        agent_id = f"a_{index:032x}"
        client = f"client-{index % CLIENTS:02d}"
        agent_rows.append({
            "id": agent_id, "client": client, "hostname": f"host-{index:05d}", "labels": {},
            "facts": {"hostname": f"host-{index:05d}", "os": "linux", "arch": "x86_64"},
            "credential_hash": secrets.token_hex(32), "enrolled_at": START, "last_seen_at": START,
            "last_job_seq": 0, "inventory_wanted": "none", "inventory_hashes": {},
        })
        member_rows.append({"group_id": "all-linux", "agent_id": agent_id, "client": client})
        member_rows.append({"group_id": f"{client}.office-{index % 4}", "agent_id": agent_id, "client": client})
        policies = [f"baseline-{n:02d}" for n in range(SHARED_POLICIES)]
        policies += [f"{client}.local-{n:02d}" for n in range(CLIENT_POLICIES)]
        for number, policy in enumerate(policies):
            version = f"{number:02d}" + "0" * 14
            status = _status(index * len(policies) + number)
            assignment_rows.append({"policy_id": policy, "agent_id": agent_id, "client": client, "version": version,
                                    "status": None if status == "stale" else status})
            if status is None:
                continue
            failing = [] if status == "compliant" else [
                {"name": "check", "type": "script", "status": status, "evidence": "exit 1: not configured"}]
            result_rows.append({
                "agent_id": agent_id, "policy_id": policy, "client": client,
                "version": "old" + version[3:] if status == "stale" else version,
                "status": "compliant" if status == "stale" else status, "mode": "audit",
                "checked_at": START - timedelta(minutes=number), "failing": failing, "history_id": 0,
            })
    with store.write() as session:
        for table, rows in ((agents, agent_rows), (device_group_members, member_rows),
                            (policy_assignments, assignment_rows), (policy_compliance, result_rows)):
            for start in range(0, len(rows), BATCH):
                session.execute(insert(table), rows[start:start + BATCH])
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")  # what autovacuum would soon do after a bulk load
    return len(assignment_rows)


def bare_count(store: Store) -> None:
    with store.read() as session:
        session.execute(select(policy_assignments.c.agent_id, func.count())
                        .group_by(policy_assignments.c.agent_id)).all()


def timed(action: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Medians of wall-clock and of this process's CPU time (all the work on SQLite, the client's
    share on PostgreSQL): on a loaded machine the CPU time shows what the wall clock waited for."""
    action()  # warm-up: caches, the planner's statistics
    walls, cpus = [], []
    for _run in range(runs):
        started, used = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - used)
    return statistics.median(walls), statistics.median(cpus)


def writers(store: Store, runs: int) -> None:
    with store.read() as session:
        assigned = [Assignment(row.policy_id, row.agent_id, row.client, row.version) for row in session.execute(
            select(policy_assignments.c.policy_id, policy_assignments.c.agent_id, policy_assignments.c.client,
                   policy_assignments.c.version))]
        members = [GroupMember(row.group_id, row.agent_id, row.client) for row in session.execute(
            select(device_group_members.c.group_id, device_group_members.c.agent_id, device_group_members.c.client))]
    samples = []
    for run in range(runs):
        version = f"moved-{run}"
        moved = [Assignment(row.policy_id, row.agent_id, row.client, version) if row.policy_id == "baseline-03" else row
                 for row in assigned]
        started = time.perf_counter()
        changed = write_assignments(store, moved, members, None)
        samples.append(time.perf_counter() - started)
    print(f"  {'write_assignments, one policy moved':40s} median {statistics.median(samples) * 1000:7.1f} ms"
          f"   ({changed} rows changed, {len(assigned)} compared)")
    samples = []
    for run in range(runs):
        agent_id = f"a_{run:032x}"
        at = START + timedelta(hours=1 + run)
        report = [PolicyResult(id=f"bench-{run}-{number}", policy_id=row.policy_id, version=row.version,
                               status="compliant", mode="audit", trigger="schedule", started_at=at, finished_at=at,
                               checks=[CheckOutcome(name="check", type="script", status="compliant")])
                  for number, row in enumerate(row for row in assigned if row.agent_id == agent_id)]
        started = time.perf_counter()
        store_policy_results(store, agent_id, _client_of(assigned, agent_id), report, at)
        samples.append(time.perf_counter() - started)
    print(f"  {'store_policy_results, 30 results':40s} median {statistics.median(samples) * 1000:7.1f} ms")


def _client_of(assigned: list[Assignment], agent_id: str) -> str:
    return next(row.client for row in assigned if row.agent_id == agent_id)


def bench(url: str, count: int, runs: int) -> None:
    store = Store.open(url)
    try:
        started = time.perf_counter()
        pairs = seed(store, count)
        engine = url.split(":", 1)[0]
        print(f"{engine}: {count} agents, {pairs} assignments, seeded in {time.perf_counter() - started:.1f} s")
        whole = compliance(store, ComplianceFilter())
        print(f"  whole fleet: {whole.totals.model_dump()}")
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("bare SELECT COUNT(*) GROUP BY agent_id", lambda: bare_count(store)),
            ("whole fleet roll-up", lambda: compliance(store, ComplianceFilter())),
            ("one client (client-07)", lambda: compliance(store, ComplianceFilter(client="client-07"))),
            ("one policy (baseline-03)", lambda: compliance(store, ComplianceFilter(policy="baseline-03"))),
            ("status table (client, policy)", lambda: client_policy_counts(store)),
        ]
        baseline = None
        for name, action in cases:
            median, cpu = timed(action, runs)
            baseline = baseline or median
            print(f"  {name:40s} median {median * 1000:7.1f} ms (cpu {cpu * 1000:6.1f} ms)"
                  f"   ratio to bare {median / baseline:5.2f}x")
        writers(store, runs)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", action="append", default=[], help="database URL (repeatable)")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    with scratch_databases(args.db) as urls:
        for url in urls:
            bench(url, args.agents, args.runs)
    print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}   target: whole fleet <= 1 s")


if __name__ == "__main__":
    main()
