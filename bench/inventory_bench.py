"""Inventory ingestion and the fleet-wide software search, on SQLite and PostgreSQL.

Run: ``python bench/inventory_bench.py [--agents 10000] [--software 150] [--deltas 2000] [--senders 32]
[--db URL ...]`` (with FLEETWARD_TEST_PG set, a scratch PostgreSQL database is added beside SQLite).

Per database, side by side in one run:

- **full ingest**: every agent's first full report (facts, hardware, 150 software items), parsed
  from the JSON body the agent sends (``InventoryReport.model_validate_json``) and stored by the
  real ingestion. The first ``--deltas`` agents one by one (:func:`ingest_inventory`, a
  transaction each), the rest as the API stores them under load: ``--senders`` request threads
  handing reports to the group-commit :class:`InventoryIngester`. Beside it, **bare**: the same
  software rows written with plain ``INSERT`` executemany, a transaction per agent, no parsing,
  history or hashes: the floor for writing that many rows. Target: 10,000 agents <= 60 s.
- **delta reports**: agents report again with one package upgraded and one removed: half send
  the changed software section whole, half as a ``software_delta`` (the two items that changed,
  as the agent sends it), each part a quarter one by one and the rest through the ingester.
  Target >= 1,000 reports/s.
- **search**: "which devices have openssl >= 3.0.11" and a ``package-01*`` pattern over the whole
  fleet through the real :func:`search_software`, median of 20, after ``ANALYZE``. Target <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from controller.ingesting import InventoryIngester
from controller.store import AgentPrincipal, InventoryUpload, Store, ingest_inventory, search_software
from controller.store.tables import agents
from schemas.protocol import InventoryReport

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_databases

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GiB = 1 << 30
OPENSSL = ["3.0.9-1", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "3.0.15-1~deb12u1"]


def agent_id(index: int) -> str:
    return f"a_{index:032x}"


def principal(index: int) -> AgentPrincipal:
    return AgentPrincipal(agent_id=agent_id(index), client=f"client-{index % 50:02d}", last_job_seq=0,
                          inventory_wanted="full")


def software(index: int, count: int, *, upgraded: bool = False) -> list[dict[str, object]]:
    items: list[dict[str, object]] = [
        {"name": "openssl", "version": OPENSSL[(index + upgraded) % len(OPENSSL)], "source": "dpkg",
         "arch": "amd64", "publisher": "Debian OpenSSL Team"}]
    for n in range(1, count):
        if upgraded and n == 1:
            continue  # removed in the delta
        items.append({"name": f"package-{n:03d}", "version": f"1.{n % 7}.{index % 3}-1", "source": "dpkg",
                      "arch": "amd64", "publisher": "Debian", "install_date": "2026-01-15"})
    return items


def hardware(index: int) -> dict[str, object]:
    return {
        "system": {"manufacturer": "Dell Inc.", "model": "OptiPlex 7010", "serial": f"SVC{index:07d}",
                   "uuid": f"4c4c4544-{index:04x}", "bios_version": "1.20.0"},
        "cpus": [{"model": "Intel(R) Core(TM) i5-13500", "sockets": 1, "cores": 14, "threads": 20,
                  "frequency_mhz": 2500}],
        "memory": {"total_bytes": 16 * GiB, "modules": [{"slot": f"DIMM{n}", "size_bytes": 8 * GiB,
                                                          "speed_mts": 4800} for n in range(2)]},
        "disks": [{"name": "nvme0n1", "model": "PM9A1", "serial": f"S{index:08d}", "size_bytes": 512 * GiB,
                   "type": "nvme"}],
        "volumes": [{"mount": "/", "filesystem": "ext4", "size_bytes": 500 * GiB, "free_bytes": 200 * GiB}],
        "interfaces": [{"name": "eno1", "mac": f"00:1b:21:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:"
                                               f"{index & 255:02x}", "ipv4": ["10.0.0.2"], "up": True}],
        "os": {"name": "Debian GNU/Linux", "version": "12", "kernel": "6.1.0-18-amd64", "arch": "x86_64"},
    }


def full_body(index: int, count: int) -> bytes:
    facts = {"hostname": f"host-{index:05d}", "os": "linux", "os_version": "Debian 12", "arch": "x86_64"}
    sections = {"facts": facts, "hardware": hardware(index), "software": software(index, count)}
    return json.dumps({"full": True, **sections, "hashes": {name: f"{name}-{index}-1" for name in sections}}
                      ).encode()


def whole_body(index: int, count: int) -> bytes:
    """The software section after one upgrade and one removal, sent whole."""
    return json.dumps({"full": False, "software": software(index, count, upgraded=True),
                       "hashes": {"software": f"software-{index}-2"}}).encode()


def delta_body(index: int, count: int) -> bytes:
    """The same change as :func:`whole_body`, sent as a software_delta against the first section."""
    before, after = software(index, count), software(index, count, upgraded=True)
    delta = {"base": f"software-{index}-1", "added": [item for item in after if item not in before],
             "removed": [item for item in before if item not in after]}
    return json.dumps({"full": False, "software_delta": delta, "hashes": {"software": f"software-{index}-2"}}
                      ).encode()


def seed_agents(store: Store, count: int) -> None:
    rows = [{"id": agent_id(index), "client": f"client-{index % 50:02d}", "hostname": f"host-{index:05d}",
             "labels": {}, "facts": {}, "credential_hash": secrets.token_hex(32), "enrolled_at": NOW,
             "last_seen_at": NOW, "last_job_seq": 0, "inventory_wanted": "full", "inventory_hashes": {}}
            for index in range(count)]
    with store.write() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(agents), rows[start:start + 5000])


def bare_ingest(store: Store, count: int, per_agent: int) -> float:
    """The same software rows with plain INSERTs into a table of the same shape."""
    table = Table("bench_bare_software", MetaData(),
                  Column("id", Integer, primary_key=True, autoincrement=True),
                  Column("agent_id", String(34)), Column("client", String(63)), Column("name", String(500)),
                  Column("name_key", String(500)), Column("version", String(200)), Column("source", String(32)),
                  Column("arch", String(50)), Column("publisher", String(500)))
    table.create(store.engine)
    try:
        started = time.perf_counter()
        for index in range(count):
            rows = [{"agent_id": agent_id(index), "client": "c", "name": item["name"],
                     "name_key": str(item["name"]).lower(), "version": item["version"], "source": "dpkg",
                     "arch": "amd64", "publisher": item["publisher"]} for item in software(index, per_agent)]
            with store.engine.begin() as connection:
                connection.execute(insert(table), rows)
        return time.perf_counter() - started
    finally:
        table.drop(store.engine)


def one_by_one(store: Store, bodies: list[bytes], first: int) -> float:
    started = time.perf_counter()
    for offset, body in enumerate(bodies):
        ingest_inventory(store, principal(first + offset), InventoryReport.model_validate_json(body), NOW)
    return time.perf_counter() - started


def measure(url: str, count: int, per_agent: int, deltas: int, senders: int) -> None:
    store = Store.open(url)
    try:
        seed_agents(store, count)
        sample = min(deltas, count)
        # One by one (each report its own transaction), on the first agents, for the ratio.
        single = one_by_one(store, [full_body(index, per_agent) for index in range(sample)], 0)
        bodies = [full_body(index, per_agent) for index in range(sample, count)]
        rest = through_ingester(store, bodies, sample, senders)
        del bodies
        full = single + rest
        bare = bare_ingest(store, count, per_agent)
        print(f"  full ingest: {count} agents x {per_agent} items in {full:.1f} s "
              f"({count * per_agent / full:,.0f} rows/s); target <= 60 s: {'met' if full <= 60 else 'MISSED'}")
        print(f"    group commit ({senders} senders): {(count - sample) / rest:,.0f} reports/s; one by one: "
              f"{sample / single:,.0f} reports/s; ratio {(count - sample) / rest / (sample / single):.2f}x")
        print(f"    bare INSERTs of the same software rows: {bare:.1f} s; ingest / bare: {full / bare:.2f}x")

        # Agents 0..sample-1 change (one upgrade, one removal): the first half send the changed section
        # whole, the second half as a software_delta, each half one by one and through the ingester.
        half = sample // 2
        whole = [whole_body(index, per_agent) for index in range(half)]
        deltas = [delta_body(index, per_agent) for index in range(half, sample)]
        quarter = half // 2
        rates = {}
        for label, bodies, first in (("whole section", whole, 0), ("software_delta", deltas, half)):
            single = one_by_one(store, bodies[:quarter], first)
            rest = through_ingester(store, bodies[quarter:], first + quarter, senders)
            rates[label] = (len(bodies) - quarter) / rest
            print(f"  delta reports (1 upgrade + 1 removal, history written), {label}: group commit "
                  f"({senders} senders) {rates[label]:,.0f}/s; one by one {quarter / single:,.0f}/s")
        best = rates["software_delta"]
        print(f"    software_delta / whole section: {best / rates['whole section']:.2f}x; "
              f"target >= 1,000/s: {'met' if best >= 1000 else 'MISSED'}")

        _analyze(store)
        for label, name, minimum in (("openssl >= 3.0.11", "openssl", "3.0.11"),
                                     ("package-01* (10 names)", "package-01*", None)):
            timings, found = [], 0
            for _ in range(20):
                started = time.perf_counter()
                found, _items = search_software(store, None, name, minimum=minimum, limit=100)
                timings.append(time.perf_counter() - started)
            median = statistics.median(timings) * 1000
            verdict = f"; target <= 100 ms: {'met' if median <= 100 else 'MISSED'}" if minimum else ""
            print(f"  search {label}: {found} of {count} devices, median {median:.1f} ms "
                  f"(min {min(timings) * 1000:.1f}){verdict}")
    finally:
        store.close()


def through_ingester(store: Store, bodies: list[bytes], first: int, senders: int) -> float:
    """Seconds to store ``bodies`` (agent ``first + i`` sends ``bodies[i]``) as the API does under load:
    ``senders`` request threads, each parsing its report and handing it to the group-commit writer."""
    ingester = InventoryIngester(store)
    work = iter(range(len(bodies)))
    lock = threading.Lock()

    def sender() -> None:
        while True:
            with lock:
                index = next(work, None)
            if index is None:
                return
            report = InventoryReport.model_validate_json(bodies[index])
            ingester.ingest(InventoryUpload(principal(first + index), report), NOW)

    started = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ingester.close()
    return elapsed


def _analyze(store: Store) -> None:
    """Fresh planner statistics, as autovacuum (PostgreSQL) or ANALYZE after migrations would give."""
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--software", type=int, default=150)
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=32, help="concurrent request threads (default: 32)")
    parser.add_argument("--db", action="append", help="database URL (repeatable); default: scratch databases")
    args = parser.parse_args()
    with scratch_databases(args.db) as urls:
        for url in urls:
            print(f"{url.split(':', 1)[0]}:")
            measure(url, args.agents, args.software, args.deltas, args.senders)


if __name__ == "__main__":
    main()
