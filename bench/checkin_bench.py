""""Nothing new" check-ins from many concurrent agents against the real server, beside a bare endpoint.

Run: ``python bench/checkin_bench.py [--agents 500] [--seconds 10] [--db URL]``.

Two servers, started one after the other on a free loopback port with the same uvicorn
setup (one process, no access log): the Fleetward controller's API (its real check-in:
bearer credential checked against the database, "anything new?" answered), and a bare
FastAPI app whose check-in endpoint parses the same request model and returns a constant
response. A load generator in this process keeps ``--agents`` keep-alive connections busy,
each a distinct enrolled agent with its own credential, and records every latency. Prints
requests/s, median and p99 latency for both and the ratio (target: controller >= 0.5 x bare).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from schemas.protocol import CheckinRequest, CheckinResponse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import scratch_databases

HERE = Path(__file__).resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the servers (run in a child process) ------------------------------------------------------

def bare_app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/api/agent/v1/checkin", response_model=CheckinResponse)
    def checkin(body: CheckinRequest) -> CheckinResponse:
        return CheckinResponse(jobs_pending=False, inventory="none", checkin_interval_seconds=60,
                               server_time=datetime.now(UTC))

    return app


def controller_app(url: str, data_dir: Path):
    from controller.api.app import create_app
    from controller.api.context import ApiContext
    from controller.jobs.signing import JobSigner
    from controller.settings import ControllerSettings
    from controller.store import Store

    settings = ControllerSettings(data_dir=data_dir, db_url=url)
    return create_app(ApiContext(store=Store.open(url), signer=JobSigner.load_or_create(data_dir / "keys"),
                                 settings=settings, clock=lambda: datetime.now(UTC)))


def serve(kind: str, port: int, url: str, data_dir: str) -> None:
    import uvicorn

    app = bare_app() if kind == "bare" else controller_app(url, Path(data_dir))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


# -- the load generator ------------------------------------------------------------------------

async def one_agent(port: int, credential: str, until: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"seen_seq": 0}).encode()
    request = (f"POST /api/agent/v1/checkin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Bearer {credential}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    errors = 0
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()
    return errors


async def load(port: int, credentials: list[str], seconds: float) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + seconds
    errors = await asyncio.gather(*(one_agent(port, c, until, latencies) for c in credentials))
    return latencies, sum(errors), time.perf_counter() - started


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def run(kind: str, url: str, data_dir: Path, credentials: list[str], seconds: float) -> dict[str, float]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(HERE), "--serve", kind, "--port", str(port),
                                "--db", url, "--data-dir", str(data_dir)])
    try:
        wait_ready(port, process)
        asyncio.run(load(port, credentials, 2.0))  # warm up
        latencies, errors, elapsed = asyncio.run(load(port, credentials, seconds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "errors": errors,
            "requests": len(latencies)}


def enrol(url: str, count: int) -> list[str]:
    from controller.store import Store, create_enrollment_token, enroll_agent
    from schemas.protocol import Facts

    store = Store.open(url)
    now = datetime.now(UTC)
    try:
        token = create_enrollment_token(store, "acme", created_by="bench", now=now)
        return [enroll_agent(store, token, Facts(hostname=f"host-{n:04d}", os="linux"), {}, now).credential
                for n in range(count)]
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--db", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--serve", choices=["bare", "controller"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db, args.data_dir)
        return
    with scratch_databases([args.db] if args.db else None) as urls, tempfile.TemporaryDirectory() as scratch:
        for url in urls:
            credentials = enrol(url, args.agents)
            print(f"{args.agents} concurrent agents, {args.seconds:.0f} s each, database "
                  f"{url.split(':', 1)[0]}, {os.cpu_count()} CPUs")
            results: dict[str, list[dict[str, float]]] = {}
            for kind in ("bare", "controller", "bare", "controller"):
                result = run(kind, url, Path(scratch), credentials, args.seconds)
                results.setdefault(kind, []).append(result)
                print(f"  {kind:10s} {result['rps']:8.0f} req/s   median {result['median_ms']:6.1f} ms   "
                      f"p99 {result['p99_ms']:6.1f} ms   errors {result['errors']:.0f}")
            bare = statistics.median(r["rps"] for r in results["bare"])
            ours = statistics.median(r["rps"] for r in results["controller"])
            print(f"  ratio controller/bare (median req/s): {ours / bare:.2f}   target >= 0.5")


if __name__ == "__main__":
    main()
