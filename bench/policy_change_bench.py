"""Policy change committed -> every online agent holding (and evaluating) the new version, timed.

Run: ``python bench/policy_change_bench.py [--agents 1000] [--interval 30] [--sample 50]
[--policies 10] [--db URL]``.

The target (issue 6): a policy change committed to git reaches every online agent within one
check-in interval. Everything on the controller's side is the real thing: ``fleetward serve`` as
its own process on a loopback port, watching a real local git repository (it applies a new
commit within about two seconds of the watcher seeing it), on SQLite and, when
``FLEETWARD_TEST_PG`` is set, on PostgreSQL. The agents are simulated in this process: ``--agents``
asyncio clients (one keep-alive HTTP/1.1 connection per cycle, as the real agent; a minimal client,
since httpx's shared pool queued thousands of them for longer than the server took to answer), each
enrolled with its own credential, doing what the real agent's loop does
about policies - check in (``POST /checkin``), and when ``policies_version`` differs from the
version held, fetch the bundle (``GET /policies``), then wait as the real agent does
(``agent.looping.jittered``: 80-100 % of the interval). They start at random points of one
interval, as in a fleet that has been running for a while, and first settle on the current
bundle. A ``--sample`` of them also do what follows the fetch: verify the bundle (signature,
agent id, script hashes - the agent's own :func:`agent.policies.bundles.verify_bundle`) and post
a result per policy (``POST /policy-results``); the bench then reads ``GET /api/compliance`` to
see the controller count the sample's results at the new version.

Then one policy's check is changed and committed. Printed: commit -> applied (the controller's
revision list says the commit is applied), and per agent commit -> fetched the bundle holding the
new version, as a distribution in seconds and in check-in intervals, with how many made it within
one interval; for the sample, commit -> results stored. The real agent evaluates a fetched bundle
in the same cycle (``bundle`` trigger), so fetched is when it starts evaluating.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_databases

from agent.looping import JITTER, jittered

CHECK_SCRIPT = "#!/bin/bash\n[ -e \"${PARAM_path:-/}\" ] && echo present || { echo missing; exit 1; }\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=Bench", "-c", "user.email=bench@fleetward.invalid"]
    done = subprocess.run(["git", "-C", str(repo), *identity, *args], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.strip()


def policies_yaml(count: int, changed_path: str) -> str:
    documents = []
    for n in range(count):
        first = changed_path if n == 0 else "/etc/hostname"
        documents.append(f"""\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: p{n}}}
spec:
  targets: {{group: linux-boxes}}
  mode: audit
  checks:
    - {{name: first, type: file, path: {first}}}
    - {{name: passwd, type: file, path: /etc/passwd, mode: "0644"}}
    - {{name: shell, script: path-exists, params: {{path: /bin/sh}}}}
""")
    return "---\n".join(documents)


def make_repo(folder: Path, policies: int) -> Path:
    repo = folder / "fleet"
    files = {
        "clients/acme/client.yaml": "apiVersion: fleetward/v1\nkind: Client\nmetadata: {name: acme}\n"
                                    "spec: {displayName: ACME, timezone: Europe/Berlin}\n",
        "groups/linux-boxes.yaml": "apiVersion: fleetward/v1\nkind: DeviceGroup\nmetadata: {name: linux-boxes}\n"
                                   "spec:\n  selector: {matchLabels: {os: linux}}\n",
        "scripts/path-exists.sh": CHECK_SCRIPT,
        "scripts/library.yaml": "apiVersion: fleetward/v1\nkind: Script\nmetadata: {name: path-exists}\n"
                                "spec:\n  shell: bash\n  file: scripts/path-exists.sh\n  os: [linux]\n"
                                "  parameters: [{name: path, type: string, default: /}]\n",
        "clients/acme/policies.yaml": policies_yaml(policies, "/etc/motd"),
    }
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, timeout=60)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "policies")
    return repo


def prepare_store(url: str, agents: int) -> tuple[str, str, list[tuple[str, str]]]:
    """An admin API token, an enrolment token and ``agents`` enrolled (agent id, credential), written
    before the server starts."""
    from controller.store import Store, create_api_token, create_enrollment_token, enroll_agent
    from schemas.protocol import Facts

    store = Store.open(url)
    now = datetime.now(UTC)
    try:
        admin = create_api_token(store, name="bench", role="admin", now=now)
        token = create_enrollment_token(store, "acme", created_by="bench", now=now)
        enrolled = [enroll_agent(store, token, Facts(hostname=f"host-{n:05d}", os="linux"), {}, now)
                    for n in range(agents)]
        return admin, token, [(agent.agent_id, agent.credential) for agent in enrolled]
    finally:
        store.close()


def start_controller(repo: Path, data_dir: Path, url: str, port: int, interval: int, log: Path) \
        -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "controller.cli.main", "serve", "--repo", str(repo), "--data-dir", str(data_dir),
               "--db", url, "--listen", f"127.0.0.1:{port}", "--checkin-interval", str(interval),
               "--interval", "30", "--status-interval", "600"]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def wait_applied(api: httpx.Client, sha: str, timeout: float = 120.0) -> float:
    """Poll the revision list until ``sha`` is applied; the monotonic time it was first seen applied."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            applied = (api.get("/api/revisions").json().get("applied") or {}).get("sha")
        except (httpx.HTTPError, ValueError):
            applied = None
        if applied == sha:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"the controller did not apply {sha[:12]} within {timeout:.0f} s")


@dataclass
class SimAgent:
    agent_id: str
    credential: str
    sample: bool
    held: str = ""
    policies: dict[str, str] = field(default_factory=dict)
    """Policy id -> version in the held bundle."""
    fetched_new: float | None = None
    stored_new: float | None = None
    errors: int = 0


@dataclass
class Run:
    interval: float
    changed: str = "acme.p0"
    old_version: str = ""
    stop_at: float = float("inf")
    keys: object = None
    checkins: int = 0
    fetches: int = 0
    reported: int = 0
    applied: float = 0.0
    stale: int = 0
    """Check-ins that started after the benchmark saw the new revision applied and still named the old bundle."""


class Connection:
    """One agent cycle's keep-alive HTTP/1.1 connection (the real agent opens one per cycle), kept minimal:
    httpx's pool, shared by thousands of simulated agents, queued them for longer than the server took."""

    def __init__(self, port: int, credential: str) -> None:
        self.port, self.credential = port, credential
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    async def call(self, method: str, path: str, body: object = None) -> Any:
        assert self.reader is not None and self.writer is not None
        data = json.dumps(body).encode() if body is not None else b""
        self.writer.write((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.credential}\r\n"
                           f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        answer = await self.reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            status = head.split(b"\r\n", 1)[0].decode(errors="replace")
            raise ValueError(f"{method} {path}: {status} {answer[:200]!r}")
        return json.loads(answer)


async def agent_loop(port: int, agent: SimAgent, run: Run, rng: random.Random) -> None:
    from agent.policies.bundles import verify_bundle
    from schemas.protocol import SignedPolicyBundle

    await asyncio.sleep(rng.uniform(0, run.interval))
    while time.monotonic() < run.stop_at:
        try:
            async with Connection(port, agent.credential) as connection:
                asked = time.monotonic()
                wanted = (await connection.call("POST", "/api/agent/v1/checkin", {"seen_seq": 0}))["policies_version"]
                run.checkins += 1
                if run.applied and asked > run.applied and agent.fetched_new is None and wanted == agent.held:
                    run.stale += 1  # asked after the apply was seen, told nothing changed
                if wanted != agent.held:
                    signed = await connection.call("GET", "/api/agent/v1/policies")
                    run.fetches += 1
                    if agent.sample:
                        bundle = verify_bundle(SignedPolicyBundle.model_validate(signed), run.keys,  # type: ignore[arg-type]
                                               agent.agent_id)
                        agent.held = bundle.version
                        agent.policies = {policy.id: policy.version for policy in bundle.policies}
                    else:
                        payload = json.loads(signed["payload"])
                        agent.held = payload["version"]
                        agent.policies = {policy["id"]: policy["version"] for policy in payload["policies"]}
                    new = run.old_version and agent.policies.get(run.changed) not in ("", None, run.old_version)
                    if new and agent.fetched_new is None:
                        agent.fetched_new = time.monotonic()
                    if agent.sample:
                        await connection.call("POST", "/api/agent/v1/policy-results", results(agent))
                        if new and agent.stored_new is None:
                            agent.stored_new = time.monotonic()
        except (OSError, asyncio.IncompleteReadError, ValueError, KeyError) as problem:
            agent.errors += 1
            if agent.errors <= 1 and run.reported < 10:
                run.reported += 1
                print(f"    {agent.agent_id}: {type(problem).__name__}: {problem}", flush=True)
        await asyncio.sleep(jittered(run.interval, rng))


def results(agent: SimAgent) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    return {"agent_id": agent.agent_id, "results": [
        {"id": uuid.uuid4().hex, "policy_id": policy, "version": version, "status": "compliant", "mode": "audit",
         "trigger": "bundle", "started_at": now, "finished_at": now,
         "checks": [{"name": "first", "type": "file", "status": "compliant", "evidence": "simulated"}]}
        for policy, version in sorted(agent.policies.items())]}


def signing_keys(base: str, token: str) -> object:
    """The controller's job-signing keys, as an agent receives them at enrolment (a Windows device the
    Linux policies do not target)."""
    from agent.verifying import TrustedKeys
    from schemas.protocol import EnrollResponse

    enrolled = httpx.post(f"{base}/api/agent/v1/enroll", json={
        "token": token, "facts": {"hostname": "key-reader", "os": "windows"}}, timeout=30)
    enrolled.raise_for_status()
    return TrustedKeys(EnrollResponse.model_validate(enrolled.json()).signing_keys)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def describe(label: str, values: list[float], interval: float) -> str:
    if not values:
        return f"  {label}: none"
    return (f"  {label} (n={len(values)}): min {min(values):.1f} s, median {statistics.median(values):.1f} s, "
            f"p90 {percentile(values, 0.9):.1f} s, p99 {percentile(values, 0.99):.1f} s, max {max(values):.1f} s"
            f"  = {max(values) / interval:.2f} x interval (median {statistics.median(values) / interval:.2f} x)")


async def drive(port: int, admin: str, agents: list[SimAgent], run: Run, repo: Path, policies: int) \
        -> tuple[float, float]:
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    tasks = [asyncio.create_task(agent_loop(port, agent, run, random.Random(rng.random()))) for agent in agents]
    # Settle: every agent holds the current bundle (one interval of spread start plus the jitter).
    deadline = time.monotonic() + run.interval * 3
    while time.monotonic() < deadline and not all(agent.policies for agent in agents):
        await asyncio.sleep(0.5)
    held = [agent.policies.get(run.changed, "") for agent in agents]
    run.old_version = max(set(held), key=held.count)
    print(f"  settled: {sum(1 for v in held if v == run.old_version)}/{len(agents)} agents hold "
          f"{run.changed} {run.old_version} ({run.checkins} check-ins, {run.fetches} bundle fetches so far)",
          flush=True)
    await asyncio.sleep(rng.uniform(0, run.interval))  # commit at an arbitrary point of the agents' cycles

    (repo / "clients/acme/policies.yaml").write_text(policies_yaml(policies, "/etc/issue"), encoding="utf-8")
    await asyncio.to_thread(git, repo, "commit", "-q", "-am", "p0 checks /etc/issue instead of /etc/motd")
    committed = time.monotonic()
    sha = await asyncio.to_thread(git, repo, "rev-parse", "HEAD")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as api:
        applied = await asyncio.to_thread(wait_applied, api, sha)
    run.applied = applied
    run.stop_at = committed + run.interval * 3
    # Until every agent holds the new version and every sample agent's results are stored.
    while time.monotonic() < run.stop_at and not all(
            agent.fetched_new and (agent.stored_new or not agent.sample) for agent in agents):
        await asyncio.sleep(0.2)
    run.stop_at = 0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return committed, applied


def bench(url: str, scratch: Path, args: argparse.Namespace) -> None:
    repo = make_repo(scratch, args.policies)
    admin, token, enrolled = prepare_store(url, args.agents)
    sample_ids = set(random.Random(3).sample(range(len(enrolled)), min(args.sample, len(enrolled))))
    agents = [SimAgent(agent_id, credential, n in sample_ids) for n, (agent_id, credential) in enumerate(enrolled)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_controller(repo, scratch / "controller", url, port, args.interval, scratch / "controller.log")
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as api:
            wait_applied(api, git(repo, "rev-parse", "HEAD"))
            run = Run(interval=float(args.interval), keys=signing_keys(base, token))
        committed, applied = asyncio.run(drive(port, admin, agents, run, repo, args.policies))
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as api:
            rollup = api.get("/api/compliance", params={"policy": run.changed}).json()
    finally:
        process.terminate()
        process.wait(timeout=30)
    fetched = [agent.fetched_new - committed for agent in agents if agent.fetched_new is not None]
    after_apply = [agent.fetched_new - applied for agent in agents if agent.fetched_new is not None]
    stored = [agent.stored_new - committed for agent in agents if agent.sample and agent.stored_new is not None]
    within = sum(1 for value in fetched if value <= args.interval)
    counts = {item["policy"]: item["counts"] for item in rollup["policies"]}.get(run.changed, {})
    print(f"  commit -> applied: {applied - committed:.1f} s", flush=True)
    print(describe("commit -> agent fetched the new version", fetched, args.interval))
    print(describe("applied -> agent fetched the new version", after_apply, args.interval))
    print(describe("commit -> sample's results stored", stored, args.interval))
    print(f"  within one check-in interval ({args.interval} s) of the commit: {within}/{len(agents)} agents "
          f"({100 * within / len(agents):.1f} %); never fetched within 3 intervals: {len(agents) - len(fetched)}; "
          f"agent-side errors: {sum(agent.errors for agent in agents)}; check-ins after the apply still naming "
          f"the old bundle: {run.stale}")
    print(f"  GET /api/compliance for {run.changed} at the new version: {counts.get('compliant', 0)} compliant "
          f"(the sample of {len(sample_ids)} posts results), {counts.get('unknown', 0)} unknown, "
          f"{counts.get('total', 0)} targeted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=30, help="the controller's check-in interval, seconds")
    parser.add_argument("--sample", type=int, default=50, help="agents that verify bundles and post results")
    parser.add_argument("--policies", type=int, default=10)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop the controller and drop the scratch databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with scratch_databases([args.db] if args.db else None) as urls:
        for url in urls:
            with tempfile.TemporaryDirectory() as scratch:
                load = os.getloadavg()
                print(f"{args.agents} simulated agents ({args.sample} verify and post results), {args.policies} "
                      f"policies, check-in interval {args.interval} s (up to {JITTER:.0%} shorter, as the agent), "
                      f"database "
                      f"{url.split(':', 1)[0]}, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
                      f"{load[2]:.2f}", flush=True)
                bench(url, Path(scratch), args)


if __name__ == "__main__":
    main()
