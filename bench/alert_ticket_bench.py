"""Alert -> ticket latency through the real controller, steady and in a storm, on SQLite and PostgreSQL.

Run: ``python bench/alert_ticket_bench.py [--agents 200] [--steady-seconds 60] [--storm 10000]
[--storm-seconds 60] [--quick] [--pg URL] [--db URL] [--profile FILE] [--api-threads N]
[--busy-cores N]`` (with
FLEETWARD_TEST_PG set, or ``--pg``, a scratch PostgreSQL database is added beside SQLite).

Per database: the real controller (``controller.serving.Controller``: API, reconcile loop, ticket
worker, status writer) runs in a child process on a free loopback port, serving a git fleet
repository with one AlertTicketRule (critical ``agent.*`` alerts, one ticket per alert key,
clearing resolves). ``--agents`` simulated agents enrol through the real API; each then POSTs its
alerts over HTTP on its own keep-alive connection, as the agent's outbox does: it waits for its next
alert and sends everything due by then in one report (one alert per report at 10/s; more when
answers are slow). Two scenarios:

- **steady**: 10 alerts/s for ``--steady-seconds``;
- **storm**: ``--storm`` alerts within ``--storm-seconds`` (10,000 in a minute): raises of many
  distinct device/monitor/subject keys, raises again of open keys with a new message (a note on the
  open ticket, never a second ticket), re-sends of an unchanged alert (nothing to do), clears of
  keys raised at least 5 s earlier (the ticket resolves), and warning-level alerts no rule matches
  (no ticket).

Latency of an alert = from the moment its POST's response arrived to the moment its effect (the
ticket row, the "raised again" note, the resolution note) is visible in the database; "sent->visible"
counts from the moment the POST was sent instead (the agent's report), so it includes the POST's wait. A reader in
this process polls the tables for new rows every 20 ms (one indexed query per table, no probe in
the worker), so the figure is rounded up to that. Beside it, the worker's own stamps
(``created_at`` / the note's ``at``) against the same clock. Then exactly-once: every critical key
has exactly one ticket, no warning key has one, each new message has exactly one note, each clear
resolved its ticket, and no request failed.

``--busy-cores N`` runs N processes that spin on the CPU during each scenario: a noisy neighbour
on the same machine, reproducible, instead of waiting for the host to be loaded by others.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_databases

from controller.settings import DEFAULT_API_THREADS

HERE = Path(__file__).resolve()
RULE = """\
apiVersion: fleetward/v1
kind: AlertTicketRule
metadata: {name: critical-agent-alerts}
spec:
  match: {alertTypes: ["agent.*"], severities: [critical]}
  dedupKey: "{{ alert.key }}"
  title: "{{ alert.message }} on {{ device.hostname }}"
  onClear: resolve
"""
CLIENT = """\
apiVersion: fleetward/v1
kind: Client
metadata: {name: acme}
spec: {displayName: ACME Corp, timezone: Europe/Berlin}
"""
MONITORS = ("cpu", "memory", "disk", "process", "reboot")
POLL_SECONDS = 0.02


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@invalid",
                               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@invalid"})
    return done.stdout.strip()


def fleet_repo(folder: Path) -> tuple[Path, str]:
    repo = folder / "fleet"
    (repo / "clients" / "acme").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "clients" / "acme" / "client.yaml").write_text(CLIENT)
    (repo / "clients" / "acme" / "alert-rules.yaml").write_text(RULE)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet")
    return repo, git(repo, "rev-parse", "HEAD")


# -- the controller (run in a child process) ---------------------------------------------------

def serve(repo: str, db_url: str, data_dir: str, port: int, profile: str | None, api_threads: int) -> None:
    from controller.serving import BackgroundController, Controller
    from controller.settings import ControllerSettings

    settings = ControllerSettings(data_dir=Path(data_dir), repo=repo, db_url=db_url, listen=f"127.0.0.1:{port}",
                                  fetch_interval=1.0, api_threads=api_threads)
    background = BackgroundController(Controller(settings))
    background.start()
    sampler = Sampler() if profile else None
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    if sampler is not None and profile:
        sampler.write(Path(profile))
    background.stop()


IDLE = {"wait", "select", "sleep", "accept", "poll", "_worker", "get", "sigwait", "run_forever"}


class Sampler:
    """Where the controller's threads spend their time: every thread's stack sampled every 10 ms
    (``--profile FILE``). Written as counts of inclusive samples per function and thread kind, the
    thread's own frames only (a cProfile of one thread would miss the others: the API's request
    threads, the ticket worker's pass, the event loop)."""

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self.samples: Counter[tuple[str, str]] = Counter()
        self.leaves: Counter[tuple[str, str]] = Counter()
        self.threads: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sampler")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            frames = sys._current_frames()
            names = {thread.ident: thread.name for thread in threading.enumerate()}
            for ident, top in frames.items():
                name = names.get(ident, "?")
                if name == "sampler":
                    continue
                kind = re.sub(r"[-_ ]?\d+.*$", "", name) or name
                stack: list[str] = []
                frame: FrameType | None = top
                while frame is not None:
                    code = frame.f_code
                    stack.append(f"{code.co_filename.split('site-packages/')[-1]}:{code.co_name}")
                    frame = frame.f_back
                if stack[0].rsplit(":", 1)[-1] in IDLE:
                    continue  # a thread waiting for work, not working
                self.threads[kind] += 1
                self.leaves[(kind, stack[0])] += 1
                for place in set(stack):
                    self.samples[(kind, place)] += 1

    def write(self, path: Path) -> None:
        self._stop.set()
        self._thread.join()
        lines = [f"{count:7d} {kind}" for kind, count in self.threads.most_common()]
        lines.append("")
        for kind, _total in self.threads.most_common(6):
            lines.append(f"== {kind}: inclusive")
            lines += [f"{count:7d} {place}" for (k, place), count in self.samples.most_common() if k == kind][:60]
            lines.append(f"== {kind}: leaves")
            lines += [f"{count:7d} {place}" for (k, place), count in self.leaves.most_common() if k == kind][:25]
        path.write_text("\n".join(lines) + "\n")


@dataclass
class Controller:
    url: str
    process: subprocess.Popen[bytes]


def start_controller(repo: Path, db_url: str, data_dir: Path, profile: str | None, api_threads: int) -> Controller:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(HERE), "--serve", str(repo), "--db", db_url,
                                "--data-dir", str(data_dir), "--port", str(port), "--api-threads", str(api_threads),
                                *(["--profile", profile] if profile else [])])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the controller exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Controller(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the controller did not start within 60 s")


def stop_controller(controller: Controller) -> None:
    controller.process.send_signal(signal.SIGTERM)
    try:
        controller.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        controller.process.kill()
        controller.process.wait()


# -- the workload ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Send:
    at: float
    """Seconds after the scenario's start."""
    agent: int
    monitor: str
    subject: str
    severity: str
    state: str
    message: str
    expect: str
    """What the controller should do: open, note, resolve or none."""


def storm_plan(count: int, seconds: float, agents: int, rng: random.Random, prefix: str) -> list[Send]:
    """``count`` sends spread evenly over ``seconds``: the mix described in the module docstring."""
    plan: list[Send] = []
    open_keys: list[tuple[int, str, str, float]] = []  # (agent, monitor, subject, raised at)
    serial = 0
    for index in range(count):
        at = index * seconds / count
        roll = rng.random()
        ready = [key for key in open_keys if at - key[3] >= 5.0]
        if roll < 0.15 and ready:  # clear a key raised at least 5 s ago
            agent, monitor, subject, _at = ready[rng.randrange(len(ready))]
            open_keys.remove((agent, monitor, subject, _at))
            plan.append(Send(at, agent, monitor, subject, "critical", "cleared", "", "resolve"))
        elif roll < 0.40 and open_keys:  # the same key again: a new message, or the same alert re-sent
            agent, monitor, subject, _raised = open_keys[rng.randrange(len(open_keys))]
            previous = next(s.message for s in reversed(plan) if (s.agent, s.monitor, s.subject)
                            == (agent, monitor, subject) and s.state == "raised")
            if rng.random() < 0.8:
                serial += 1
                plan.append(Send(at, agent, monitor, subject, "critical", "raised", f"{prefix} m{serial}", "note"))
            else:
                plan.append(Send(at, agent, monitor, subject, "critical", "raised", previous, "none"))
        elif roll < 0.48:  # a warning: no rule matches
            serial += 1
            plan.append(Send(at, rng.randrange(agents), "memory", f"{prefix}-w{serial}", "warning", "raised",
                             f"{prefix} m{serial}", "none"))
        else:  # a new key
            serial += 1
            agent, monitor = rng.randrange(agents), rng.choice(MONITORS)
            subject = f"{prefix}-s{serial}"
            open_keys.append((agent, monitor, subject, at))
            plan.append(Send(at, agent, monitor, subject, "critical", "raised", f"{prefix} m{serial}", "open"))
    return plan


@dataclass
class Sent:
    send: Send
    posted_at: float
    answered_at: float
    status: int
    error: str = ""
    """For status 0: the transport error (an answer timed out, the server closed the connection...)."""


async def post_all(url: str, credentials: list[str], plan: list[Send]) -> tuple[list[Sent], float]:
    """Each agent sends its part of the plan in order on its own connection, each send at its time.

    Also returns the seconds from the first send's time to the last answer (not counting the
    clients' set-up before the clock starts)."""
    by_agent: dict[int, list[Send]] = {}
    for send in plan:
        by_agent.setdefault(send.agent, []).append(send)
    results: list[Sent] = []
    # Every agent's client is made before the clock starts: making one builds an SSL context (the CA
    # bundle read and parsed, tens of ms on a loaded machine) on this event loop, and 200 of them made
    # inside the run blocked every other agent's request and answer for seconds - measured as the
    # controller's POST latency.
    clients = {index: httpx.AsyncClient(base_url=f"{url}/api/agent/v1", timeout=60,
                                        headers={"Authorization": f"Bearer {credentials[index]}"})
               for index in by_agent}
    start = time.monotonic()
    offset = time.time() - start

    async def agent(index: int, sends: list[Send]) -> None:
        # Like the agent's outbox: wait for the next alert, then send everything due in one report.
        async with clients[index] as http:
            done = 0
            while done < len(sends):
                delay = start + sends[done].at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                due = [send for send in sends[done:] if start + send.at <= time.monotonic()] or [sends[done]]
                items = [{"id": f"i{done + number}", "monitor": send.monitor, "subject": send.subject,
                          "severity": send.severity, "state": send.state, "message": send.message,
                          "observed_at": datetime.now(UTC).isoformat()} for number, send in enumerate(due)]
                posted = time.monotonic() + offset
                error = ""
                try:
                    response = await http.post("/alerts", json={"alerts": items})
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status, error = 0, f"{type(exc).__name__}: {exc}"[:120]
                answered = time.monotonic() + offset
                results.extend(Sent(send, posted, answered, status, error) for send in due)
                done += len(due)

    await asyncio.gather(*(agent(index, sends) for index, sends in by_agent.items()))
    return results, max(item.answered_at for item in results) - (start + offset)


# -- watching the database ---------------------------------------------------------------------

@dataclass
class Seen:
    tickets: dict[int, tuple[str, str, datetime, float]] = field(default_factory=dict)
    """ticket id -> (dedup key, title, created_at, first seen)"""
    notes: dict[int, tuple[int, str, datetime, float]] = field(default_factory=dict)
    """note id -> (ticket id, text, at, first seen)"""


class Watcher:
    """Polls for new ticket and note rows every 20 ms and records when each was first visible."""

    def __init__(self, db_url: str) -> None:
        from controller.store import Store

        self.store = Store.open(db_url, migrate=False)
        self.seen = Seen()
        self._last_ticket = self._last_note = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self.poll()
        self.seen = Seen()  # only what this scenario causes
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        self.store.close()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.poll()

    def poll(self) -> None:
        from controller.store.tables import service_request_notes as notes
        from controller.store.tables import service_requests as tickets

        last_ticket, last_note = self._last_ticket, self._last_note
        with self.store.read() as session:
            new_tickets = session.execute(select(tickets.c.id, tickets.c.dedup_key, tickets.c.title,
                                                 tickets.c.created_at)
                                          .where(tickets.c.id > last_ticket)).all()
            new_notes = session.execute(select(notes.c.id, notes.c.service_request_id, notes.c.text, notes.c.at)
                                        .where(notes.c.id > last_note)).all()
        now = time.time()
        for row in new_tickets:
            self.seen.tickets[row.id] = (row.dedup_key, row.title, row.created_at, now)
        for row in new_notes:
            self.seen.notes[row.id] = (row.service_request_id, row.text, row.at, now)
        self._last_ticket = max([last_ticket, *(row.id for row in new_tickets)])
        self._last_note = max([last_note, *(row.id for row in new_notes)])


# -- the check ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    visible: list[float]
    sent: list[float]
    """From the POST being sent (the agent's report) to the effect visible: the POST's wait included."""
    stamped: list[float]
    problems: list[str]
    failed_requests: int
    coalesced: int


RAISED_AGAIN = re.compile(r"raised again at \S+: (.*)$", re.DOTALL)
CLEARED = re.compile(r"Alert (\S+) cleared at ")


def check(sent: list[Sent], seen: Seen, agent_ids: list[str]) -> Outcome:
    """Latencies per effect, and every way the result differs from exactly-once.

    An alert changed twice before the worker looked (a new message, then another or a clear) is
    acted on once, for its latest state: the earlier change is "coalesced" into the later effect,
    which is level-triggered behaviour, not a loss. Anything else missing is a problem."""
    problems: list[str] = []
    keys = Counter(key for key, _title, _created, _seen in seen.tickets.values())
    problems += [f"{count} tickets for {key}" for key, count in keys.items() if count > 1]
    effects: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
    for key, title, created, first_seen in seen.tickets.values():
        effects.setdefault(("open", key), []).append((created, first_seen))
        effects.setdefault(("title", title.split(" on ")[0]), []).append((created, first_seen))
    for _ticket, text, at, first_seen in seen.notes.values():
        if (again := RAISED_AGAIN.search(text)) is not None:
            effects.setdefault(("note", again.group(1)), []).append((at, first_seen))
        elif (cleared := CLEARED.search(text)) is not None:
            effects.setdefault(("resolve", cleared.group(1)), []).append((at, first_seen))
    visible: list[float] = []
    since_sent: list[float] = []
    stamped: list[float] = []
    coalesced = 0
    wanted = [(item, f"agent:{agent_ids[item.send.agent]}:{item.send.monitor}:{item.send.subject}")
              for item in sorted(sent, key=lambda item: item.send.at)]
    found: dict[int, bool] = {}
    for index, (item, key) in enumerate(wanted):
        send = item.send
        if send.expect == "none":
            continue
        lookup = {"open": ("open", key), "note": ("note", send.message), "resolve": ("resolve", key)}[send.expect]
        matches = effects.get(lookup, []) or (effects.get(("title", send.message), []) if send.expect == "note"
                                              else [])
        if len(matches) > 1 and send.expect != "open":
            problems.append(f"{len(matches)} effects for {send.expect} of {key} {send.message!r}")
        found[index] = bool(matches)
        if matches:
            visible.append(matches[0][1] - item.answered_at)
            since_sent.append(matches[0][1] - item.posted_at)
            stamped.append(matches[0][0].timestamp() - item.answered_at)
    for index, (item, key) in enumerate(wanted):
        if found.get(index, True):
            continue
        later = [j for j in range(index + 1, len(wanted)) if wanted[j][1] == key and found.get(j)]
        if later and item.send.expect != "open":
            coalesced += 1
        else:
            problems.append(f"nothing for {item.send.expect} of {key} {item.send.message!r}")
    opened = {key for item, key in wanted if item.send.expect == "open"}
    problems += [f"a ticket nobody asked for: {key}" for key in sorted(set(keys) - opened)[:20]]
    return Outcome(visible, since_sent, stamped, problems, sum(1 for item in sent if item.status != 200), coalesced)


def cpu_times() -> list[int]:
    """The machine's CPU time so far (/proc/stat's first line: user, nice, system, idle, iowait, irq,
    softirq, steal), or [] where there is no /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(value) for value in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return []


def cpu_share(before: list[int], after: list[int]) -> str:
    """How the machine's CPUs were spent between two :func:`cpu_times`: busy, idle and stolen by the
    hypervisor (time this VM wanted to run but another guest had the host's CPU)."""
    if len(before) < 8 or len(after) < 8:
        return "cpu: unknown"
    spent = [later - earlier for earlier, later in zip(before, after, strict=True)]
    total = sum(spent) or 1
    idle, steal = spent[3] + spent[4], spent[7]
    return f"cpu: busy {(total - idle - steal) / total:.0%}, idle {idle / total:.0%}, stolen {steal / total:.0%}"


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(max(0.0, value) * 1000 for value in values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return (f"p50 {statistics.median(ordered):6.0f}  p95 {rank(0.95):6.0f}  p99 {rank(0.99):6.0f}  "
            f"max {ordered[-1]:6.0f} ms")


@contextlib.contextmanager
def busy_neighbours(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU for as long as the block runs (``--busy-cores``)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def run_scenario(name: str, url: str, db_url: str, credentials: list[str], agent_ids: list[str],
                 plan: list[Send], settle: float, busy_cores: int) -> bool:
    with busy_neighbours(busy_cores), Watcher(db_url) as watcher:
        cpu_before = cpu_times()
        sent, posting = asyncio.run(post_all(url, credentials, plan))
        cpu = cpu_share(cpu_before, cpu_times())
        deadline = time.monotonic() + settle
        wanted = sum(1 for send in plan if send.expect == "open")
        while time.monotonic() < deadline:
            opened = {key for key, _t, _c, _s in list(watcher.seen.tickets.values())}
            if len({f"agent:{agent_ids[s.agent]}:{s.monitor}:{s.subject}" for s in plan
                    if s.expect == "open"} - opened) == 0:
                break
            time.sleep(0.2)
        time.sleep(2.0)  # the last notes and resolutions, and anything that should not be there
    outcome = check(sent, watcher.seen, agent_ids)
    kinds = Counter(send.expect for send in plan)
    print(f"  {name}: {len(plan)} alerts in {posting:.1f} s ({len(plan) / posting:.0f}/s; "
          f"{kinds['open']} new keys, {kinds['note']} new messages, {kinds['resolve']} clears, "
          f"{kinds['none']} nothing to do), {wanted} tickets expected; {cpu}"
          + (f", {busy_cores} spinning process(es) included (--busy-cores)" if busy_cores else ""))
    print(f"    POST     {percentiles([item.answered_at - item.posted_at for item in sent])}")
    print(f"    visible  {percentiles(outcome.visible)}   ({len(outcome.visible)} effects)")
    print(f"    stamped  {percentiles(outcome.stamped)}")
    print(f"    sent->visible {percentiles(outcome.sent)}   (from the POST being sent)")
    print(f"    exactly-once: {'ok' if not outcome.problems else f'{len(outcome.problems)} problems'}, "
          f"failed requests {outcome.failed_requests} "
          f"{dict(Counter(item.status for item in sent if item.status != 200)) or ''} (status 0: no answer), "
          f"changes coalesced into a later one {outcome.coalesced}")
    for error, count in Counter(item.error for item in sent if item.error).most_common(5):
        print(f"      no answer, {count} alerts: {error}")
    for problem in outcome.problems[:10]:
        print(f"      {problem}")
    return not outcome.problems and not outcome.failed_requests


def enrol(url: str, db_url: str, count: int) -> tuple[list[str], list[str]]:
    from controller.store import Store, create_enrollment_token

    with Store.open(db_url, migrate=False) as store:
        token = create_enrollment_token(store, "acme", created_by="bench", now=datetime.now(UTC))
    credentials, ids = [], []
    with httpx.Client(base_url=url, timeout=30) as http:
        for index in range(count):
            answer = http.post("/api/agent/v1/enroll", json={
                "token": token, "facts": {"hostname": f"host-{index:04d}", "os": "linux"}}).raise_for_status().json()
            credentials.append(answer["credential"])
            ids.append(answer["agent_id"])
    return credentials, ids


def wait_applied(url: str, db_url: str, sha: str) -> None:
    from controller.store import Store, create_api_token

    with Store.open(db_url, migrate=False) as store:
        token = create_api_token(store, name="bench", role="admin", client=None, now=datetime.now(UTC))
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        while time.monotonic() < deadline:
            applied = http.get("/api/revisions").json().get("applied")
            if applied and applied["sha"] == sha:
                return
            time.sleep(0.2)
    raise SystemExit(f"revision {sha[:12]} was not applied within 60 s")


def bench(db_url: str, args: argparse.Namespace) -> bool:
    from controller.store import Store

    Store.open(db_url).close()  # the schema, so tokens can be created before the controller starts
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        repo, sha = fleet_repo(Path(folder))
        profile = f"{args.profile}.{db_url.split(':', 1)[0]}" if args.profile else None
        controller = start_controller(repo, db_url, Path(folder) / "controller", profile, args.api_threads)
        try:
            wait_applied(controller.url, db_url, sha)
            credentials, agent_ids = enrol(controller.url, db_url, args.agents)
            print(f"database {db_url.split(':', 1)[0]}, {args.agents} agents, {os.cpu_count()} CPUs")
            steady_count = int(10 * args.steady_seconds)
            ok = run_scenario("steady 10/s", controller.url, db_url, credentials, agent_ids,
                              storm_plan(steady_count, args.steady_seconds, args.agents, rng, "steady"), 30,
                              args.busy_cores)
            ok &= run_scenario(f"storm {args.storm}/{args.storm_seconds:.0f}s", controller.url, db_url,
                               credentials, agent_ids,
                               storm_plan(args.storm, args.storm_seconds, args.agents, rng, "storm"), 60,
                               args.busy_cores)
        finally:
            stop_controller(controller)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    parser.add_argument("--storm", type=int, default=10_000)
    parser.add_argument("--storm-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 20 agents, 5 s steady, 500 alerts in 5 s")
    parser.add_argument("--db", action="append", default=[], help="database URL(s) instead of scratch ones")
    parser.add_argument("--pg", default="", help="a PostgreSQL server URL to create a scratch database on")
    parser.add_argument("--profile", help="sample the controller's threads every 10 ms; write FILE.<database>")
    parser.add_argument("--api-threads", type=int, default=DEFAULT_API_THREADS,
                        help=f"the controller's --api-threads (default: {DEFAULT_API_THREADS})")
    parser.add_argument("--busy-cores", type=int, default=0, metavar="N",
                        help="run N CPU-spinning processes during each scenario (a noisy neighbour)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        serve(args.serve, args.db[0], args.data_dir, args.port, args.profile, args.api_threads)
        return
    if args.quick:
        args.agents, args.steady_seconds, args.storm, args.storm_seconds = 20, 5.0, 500, 5.0
    if args.pg:
        os.environ["FLEETWARD_TEST_PG"] = args.pg
    ok = True
    with scratch_databases(args.db or None) as urls:
        for url in urls:
            ok &= bench(url, args)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
