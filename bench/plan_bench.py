"""Planning a large fleet read from the database, side by side with a bare read of the same rows.

Run: ``python bench/plan_bench.py [--agents 10000] [--deployments 20] [--db URL ...] [--rounds 5]``.
Without ``--db`` it uses a temporary SQLite file, plus PostgreSQL when FLEETWARD_TEST_PG is set
(a scratch database is created there and dropped afterwards).

Seeds N agents in 50 clients, every agent with the 20 packages of 20 MSP-wide deployments
installed (90 % at the current version, 10 % one version behind, so 10 % of pairs need an
upgrade) and 5 % of agents with an open job. Then times, median of ``--rounds``:

- bare: the same rows (agents, managed software, open jobs, failed jobs) fetched with plain
  SQL through the driver, no processing;
- read: ``controller.store.read_observed`` (builds the planner's ObservedState);
- plan: ``controller.planning.plan`` on it;
and prints read+plan against the targets: <= 2 s and <= 3x bare. Asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from controller.desired import DesiredState, Loaded, SourceLocation
from controller.planning import plan
from controller.reconciling import gc_paused
from controller.store import Store, read_observed
from controller.store.tables import agents, jobs, managed_software
from schemas.kinds import KINDS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_databases

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
BARE = (
    "SELECT id, client, hostname, labels, facts FROM agents WHERE revoked_at IS NULL",
    "SELECT agent_id, package, version FROM managed_software",
    "SELECT agent_id, id, action, package, version, deployment, state, created_at FROM jobs "
    "WHERE state IN ('queued', 'leased', 'running') ORDER BY seq",
    "SELECT agent_id, package, version, action, finished_at, reason FROM jobs "
    "WHERE state IN ('failed', 'refused') ORDER BY finished_at, seq",
)


def desired_state(deployments: int) -> DesiredState:
    def make(kind: str, name: str, spec: dict) -> Loaded:
        resource = KINDS[kind].model_validate({"apiVersion": "fleetward/v1", "kind": kind,
                                               "metadata": {"name": name}, "spec": spec})
        return Loaded(resource, None, SourceLocation(f"{kind.lower()}s/{name}.yaml"))

    resources: dict = {"Package": {}, "Deployment": {}, "DeviceGroup": {}}
    resources["DeviceGroup"][(None, "linux")] = make("DeviceGroup", "linux",
                                                     {"selector": {"matchLabels": {"os": "linux"}}})
    for n in range(deployments):
        resources["Package"][(None, f"tool-{n}")] = make("Package", f"tool-{n}", {
            "version": "2.0", "installers": [{"os": "linux", "type": "archive",
                                              "url": f"https://a.example/tool-{n}-2.0.tar",
                                              "sha256": "0" * 64}]})
        resources["Deployment"][(None, f"tool-{n}")] = make("Deployment", f"tool-{n}", {
            "package": f"tool-{n}", "targets": {"group": "linux"}})
    return DesiredState(revision="b" * 40, resources=resources)


def seed(store: Store, count: int, deployments: int) -> None:
    agent_rows, managed_rows, job_rows = [], [], []
    for index in range(count):
        agent_id = f"a_{index:032x}"
        client = f"client-{index % 50:02d}"
        agent_rows.append({
            "id": agent_id, "client": client, "hostname": f"host-{index:05d}", "labels": {"role": "desk"},
            "facts": {"hostname": f"host-{index:05d}", "os": "linux", "os_version": "Debian 12",
                      "arch": "x86_64"},
            "credential_hash": secrets.token_hex(32), "enrolled_at": NOW, "last_seen_at": NOW,
            "last_job_seq": 1, "inventory_wanted": "none", "inventory_hashes": {},
        })
        for n in range(deployments):
            version = "1.0" if (index + n) % 10 == 0 else "2.0"
            managed_rows.append({"agent_id": agent_id, "package": f"tool-{n}", "client": client,
                                 "version": version, "sha256": "", "installed_at": NOW, "reported_at": NOW})
        if index % 20 == 0:
            job_rows.append({
                "id": f"j_{index:032x}", "agent_id": agent_id, "client": client, "seq": 1, "kind": "package",
                "action": "upgrade", "package": f"tool-{index % deployments}", "version": "2.0",
                "previous_version": "1.0", "deployment": f"tool-{index % deployments}", "revision": "b" * 40,
                "installer": {}, "state": "queued", "deliveries": 0, "created_at": NOW,
                "expires_at": NOW + timedelta(days=1), "updated_at": NOW, "reason": "", "output": "",
            })
    with store.write() as session:
        for table, rows in ((agents, agent_rows), (managed_software, managed_rows), (jobs, job_rows)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(table), rows[start:start + 5000])


def bare_read(store: Store) -> int:
    rows = 0
    with store.read() as session:
        connection = session.connection()
        for sql in BARE:
            rows += len(connection.exec_driver_sql(sql).fetchall())
    return rows


def measure(url: str, count: int, deployments: int, rounds: int) -> None:
    store = Store.open(url)
    try:
        started = time.perf_counter()
        seed(store, count, deployments)
        print(f"  seeded {count} agents x {deployments} packages in {time.perf_counter() - started:.1f} s")
        desired = desired_state(deployments)
        bare, read, planned, planned_gc = [], [], [], []
        summary = ""
        for _ in range(rounds):
            gc.collect()
            t0 = time.perf_counter()
            rows = bare_read(store)
            t1 = time.perf_counter()
            observed = read_observed(store, now=NOW)
            t2 = time.perf_counter()
            with gc_paused():  # as the reconciler runs it
                result = plan(desired, observed, NOW)
            t3 = time.perf_counter()
            summary = f"rows read: {rows}; plan: {len(result.jobs)} jobs, {len(result.outcomes)} outcomes"
            del result
            t4 = time.perf_counter()
            result = plan(desired, observed, NOW)  # the collector left on, for comparison
            t5 = time.perf_counter()
            del result, observed
            bare.append(t1 - t0)
            read.append(t2 - t1)
            planned.append(t3 - t2)
            planned_gc.append(t5 - t4)
        b, r, p, pg = (statistics.median(x) for x in (bare, read, planned, planned_gc))
        print(f"  {summary}")
        print(f"  bare SQL read      {b * 1000:8.0f} ms")
        print(f"  read_observed      {r * 1000:8.0f} ms")
        print(f"  plan               {p * 1000:8.0f} ms   (cyclic GC paused, as the reconciler runs it;"
              f" {pg * 1000:.0f} ms with it on)")
        print(f"  read + plan        {(r + p) * 1000:8.0f} ms   target <= 2000 ms")
        print(f"  ratio to bare      {(r + p) / b:8.2f} x   target <= 3.0 x")
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", action="append", default=[], help="database URL (repeatable)")
    args = parser.parse_args()
    with scratch_databases(args.db) as urls:
        for url in urls:
            print(f"{url.split(':', 1)[0]}: {args.agents} agents x {args.deployments} deployments, "
                  f"median of {args.rounds}")
            measure(url, args.agents, args.deployments, args.rounds)


if __name__ == "__main__":
    main()
