"""Agent install overhead for a real .deb against plain ``dpkg -i`` on the same file (target: at most 1.5 times).

A tiny .deb is built with ``dpkg-deb`` (as tests/agent/installers/test_deb.py does) and served from a
loopback HTTP server. Each round runs, in turn and in an order that rotates every round:

* ``dpkg -i <file>`` on the .deb already on local disk (the baseline);
* the agent's full job path with a cold cache: the signed job is verified (Ed25519, agent id,
  expiry, replay), the job's ``running`` event and result go to an in-process sink (no controller,
  no network), detection before (``dpkg-query``), the install lock, the download from the loopback
  server into the download cache with size and SHA-256 checked, ``dpkg -i``, detection after, the
  receipt, the journal and ``seen_seq``;
* the same with a warm cache: the artifact is already in the download cache (re-hashed before use,
  as the agent always does), nothing is downloaded;
* the agent's path as built on this machine by ``build_packages``: on Debian with ``apt-get``
  present it installs a .deb with ``dpkg -i`` when its dependencies are provably installed
  (``agent/installers/debtool.py``: the .deb's control fields and dpkg's status file read
  in-process, ``dpkg-deb -f`` / ``dpkg-query`` only for what those readers refuse) and with
  ``apt-get install <file>`` otherwise; cold cache, three .debs: no dependencies, installed
  dependencies (``Depends: dpkg (>= 1.0), libc6 | ...``) and a virtual dependency (``Depends: awk``,
  which only apt-get resolves); plain ``dpkg -i`` of the second .deb is timed too.

Between runs the package is purged and the receipt removed (not timed). Medians of N rounds.
Needs root, dpkg-deb and dpkg (CI and the sandbox run as root on Debian).

    python bench/install_bench.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import functools
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.executing import JobRunner
from agent.extracting import Caps
from agent.installing import build_packages
from agent.state import AgentState, DataDir
from agent.verifying import TrustedKeys
from schemas.jobs import JOB_SIGNATURE_CONTEXT, JobSpec, PackageTarget, SignedJob, canonical_json
from schemas.packages import parse_installer
from schemas.protocol import JobEvent, JobEventAck, SigningKey

TARGET = 1.5
PACKAGE = "fleetward-bench-hello"
AGENT_ID = "a_" + "b" * 32
HELLO = Path("/usr/local/share/fleetward-bench/hello.txt")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


class Sink:
    """Where the job runner's events go: kept in memory (the controller is not what is measured)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, JobEvent]] = []

    def send_event(self, job_id: str, event: JobEvent) -> JobEventAck:
        self.events.append((job_id, event))
        return JobEventAck(job_id=job_id, state=event.status)


class Signer:
    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key = SigningKey(key_id=hashlib.sha256(raw).hexdigest()[:16], public_key=base64.b64encode(raw).decode())

    def sign(self, spec: JobSpec) -> SignedJob:
        payload = canonical_json(spec.model_dump(mode="json"))
        signature = self.private.sign(JOB_SIGNATURE_CONTEXT + payload.encode())
        return SignedJob(job_id=spec.job_id, seq=spec.seq, key_id=self.key.key_id, payload=payload,
                         signature=base64.b64encode(signature).decode())


DEPENDS = "Depends: dpkg (>= 1.0), libc6 | fleetward-bench-no-such-package\n"
VIRTUAL = "Depends: awk\n"


def build_deb(folder: Path, control: str = "", tag: str = "") -> Path:
    root = folder / f"{PACKAGE}-1.0{tag}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: Fleetward bench <b@example.com>\n"
        f"{control}Description: Fleetward install benchmark package\n a tiny package the install bench installs\n")
    target = root / HELLO.relative_to("/")
    target.parent.mkdir(parents=True)
    target.write_text("hello 1.0\n")
    out = folder / f"{PACKAGE}_1.0{tag}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)], check=True,
                   capture_output=True)
    return out


def purge() -> None:
    subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True, check=False)


def installed() -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", PACKAGE], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() == "install ok installed"


class AgentPath:
    """One agent data dir and its job runner; ``run`` installs the .deb through the whole job path."""

    def __init__(self, root: Path, url: str, deb: Path, signer: Signer, *, use_apt: bool | None) -> None:
        self.data_dir = DataDir(root)
        for folder in (root, self.data_dir.journal_dir, self.data_dir.receipts_dir, self.data_dir.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.packages = build_packages(self.data_dir, clock=lambda: datetime.now(UTC), caps=Caps(10_000, 1 << 30),
                                       allow_insecure_http=False, max_artifact_bytes=1 << 30)
        if use_apt is not None:
            self.packages.native.facts = dataclasses.replace(self.packages.native.facts, use_apt=use_apt)
        self.use_apt = self.packages.native.facts.use_apt
        self.state = AgentState()
        self.sink = Sink()
        self.runner = JobRunner(events=self.sink, data_dir=self.data_dir, state=self.state, agent_id=AGENT_ID,
                                keys=TrustedKeys([signer.key]), packages=self.packages,
                                clock=lambda: datetime.now(UTC))
        data = deb.read_bytes()
        self.installer = parse_installer({"os": "linux", "type": "deb", "url": url, "sha256":
                                          hashlib.sha256(data).hexdigest(), "size": len(data),
                                          "packageName": PACKAGE})
        self.signer = signer
        self.seq = 0
        self.tool = ""

    def job(self) -> SignedJob:
        self.seq += 1
        now = datetime.now(UTC)
        spec = JobSpec(job_id=f"j_{self.seq:032x}", agent_id=AGENT_ID, seq=self.seq, issued_at=now,
                       expires_at=now + timedelta(hours=1), action="install",
                       package=PackageTarget(name="hello-deb", version="1.0", installer=self.installer),
                       deployment="bench", revision="c" * 40)
        return self.signer.sign(spec)

    def run(self, job: SignedJob) -> None:
        result = self.runner.handle(job)
        if result.result != "succeeded":
            raise SystemExit(f"the agent's install failed: {result.reason or result.message}")
        output = self.sink.events[-1][1].output or ""
        self.tool = "apt-get" if "$ apt-get install" in output else "dpkg -i"

    def reset(self, *, keep_cache: bool) -> None:
        purge()
        shutil.rmtree(self.data_dir.receipts_dir, ignore_errors=True)
        self.data_dir.receipts_dir.mkdir()
        if not keep_cache:
            shutil.rmtree(self.data_dir.cache_dir / "artifacts", ignore_errors=True)


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    if not installed():
        raise SystemExit("the package is not installed after a timed run")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("dpkg-deb") is None:
        raise SystemExit("needs root and dpkg-deb (it installs a real .deb)")
    with tempfile.TemporaryDirectory(prefix="fleetward-install-bench-") as temp:
        work = Path(temp)
        (work / "served").mkdir()
        deb, with_depends, virtual = build_deb(work), build_deb(work, DEPENDS, "-d"), build_deb(work, VIRTUAL, "-v")
        for each in (deb, with_depends, virtual):
            shutil.copy(each, work / "served" / each.name)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(work / "served")))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{server.server_address[1]}/"
        url = base_url + deb.name
        signer = Signer()
        cold = AgentPath(work / "agent-cold", url, deb, signer, use_apt=False)
        warm = AgentPath(work / "agent-warm", url, deb, signer, use_apt=False)
        native = AgentPath(work / "agent-native", url, deb, signer, use_apt=None)
        native_depends = AgentPath(work / "agent-native-depends", base_url + with_depends.name, with_depends, signer,
                                   use_apt=None)
        native_virtual = AgentPath(work / "agent-native-virtual", base_url + virtual.name, virtual, signer,
                                   use_apt=None)
        purge()
        warm.run(warm.job())  # fills the warm agent's download cache
        warm.reset(keep_cache=True)

        def dpkg(file: Path) -> Callable[[], None]:
            def install() -> None:
                subprocess.run(["dpkg", "-i", str(file)], check=True, capture_output=True,
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            return install

        def agent(path: AgentPath, *, keep_cache: bool) -> tuple[Callable[[], None], Callable[[], None]]:
            return lambda: path.run(path.job()), lambda: path.reset(keep_cache=keep_cache)

        built = "apt-get present" if native.use_apt else "no apt-get"
        variants: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
            "dpkg -i": (dpkg(deb), purge),
            "dpkg -i, .deb with Depends": (dpkg(with_depends), purge),
            "agent, dpkg -i path, cold cache (download)": agent(cold, keep_cache=False),
            "agent, dpkg -i path, warm cache": agent(warm, keep_cache=True),
            f"agent as built here ({built}), no deps": agent(native, keep_cache=False),
            f"agent as built here ({built}), Depends met": agent(native_depends, keep_cache=False),
            f"agent as built here ({built}), virtual dep": agent(native_virtual, keep_cache=False),
        }
        tools = dict(zip(list(variants)[4:], (native, native_depends, native_virtual), strict=True))
        names = list(variants)
        times: dict[str, list[float]] = {name: [] for name in names}
        purge()
        try:
            for round_number in range(args.rounds + 1):
                order = names[round_number % len(names):] + names[:round_number % len(names)]
                for name in order:
                    action, reset = variants[name]
                    elapsed = timed(action)
                    reset()
                    if round_number > 0:  # the first round warms the page cache and imports
                        times[name].append(elapsed)
        finally:
            purge()
            server.shutdown()
    load = os.getloadavg()
    base = statistics.median(times["dpkg -i"])
    print(f"{args.rounds} rounds, medians; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'variant':<56} {'median':>9} {'min':>9} {'ratio':>7}  tool")
    for name in names:
        median = statistics.median(times[name])
        tool = tools[name].tool if name in tools else ""
        print(f"{name:<56} {median * 1000:7.0f} ms {min(times[name]) * 1000:7.0f} ms {median / base:6.2f}x  {tool}")
    print(f"target: agent <= {TARGET}x dpkg -i")


if __name__ == "__main__":
    main()
