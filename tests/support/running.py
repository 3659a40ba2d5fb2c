"""Run the real thing in tests: the controller on a loopback uvicorn server, the agent as a process.

``run_controller`` starts :class:`controller.serving.Controller` (API, reconcile loop, status
writer, ref watcher) in a background thread on a free 127.0.0.1 port and stops it afterwards.
``AgentProcess`` drives the real ``fleetward-agent`` CLI with ``python -m agent``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from controller.demo.artifacts import build_tar
from controller.serving import BackgroundController, Controller
from controller.settings import ControllerSettings
from controller.store import create_api_token, create_enrollment_token

T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1,
               what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)
        last = check()
    return last


@dataclass
class RunningController:
    controller: Controller
    url: str
    background: BackgroundController | None = None

    @property
    def store(self):
        return self.controller.store

    def token(self, role: str = "admin", client: str | None = None, name: str = "tests") -> str:
        return create_api_token(self.store, name=name, role=role, client=client, now=datetime.now(UTC))

    def enrolment_token(self, client: str, **kwargs: Any) -> str:
        return create_enrollment_token(self.store, client, created_by="tests", now=datetime.now(UTC),
                                       **kwargs)

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def applied_revision(self) -> str | None:
        with self.api() as client:
            applied = client.get("/api/revisions").json()["applied"]
        return applied["sha"] if applied else None

    def wait_applied(self, sha: str, timeout: float = 20.0) -> None:
        self.controller.reconciler.request_fetch()
        wait_until(lambda: self.applied_revision() == sha, timeout=timeout, what=f"revision {sha[:12]}")

    def device_state(self, deployment: str, hostname: str) -> str | None:
        with self.api() as client:
            response = client.get(f"/api/deployments/{deployment}/status")
        if response.status_code != 200:
            return None
        for device in response.json()["devices"]:
            if device["hostname"] == hostname:
                return str(device["state"])
        return None


@contextmanager
def run_controller(repo: str, data_dir: Path, db_url: str, **overrides: Any) -> Iterator[RunningController]:
    values: dict[str, Any] = {"fetch_interval": 0.5, "status_interval": 0.5, "checkin_interval": 5,
                              "full_reconcile_interval": 5.0}
    values.update(overrides)
    settings = ControllerSettings(data_dir=data_dir, repo=repo, db_url=db_url, listen="127.0.0.1:0",
                                  **values)
    controller = Controller(settings)
    background = BackgroundController(controller)
    url = background.start()
    try:
        yield RunningController(controller, url, background)
    finally:
        background.stop()


class AgentProcess:
    """The real agent CLI in its own data dir, run as a subprocess per command."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True,
                              timeout=120, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"fleetward-agent {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def enroll(self, server: str, token: str, **labels: str) -> subprocess.CompletedProcess[str]:
        label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
        return self.run("enroll", "--server", server, "--token", token, "--data-dir", str(self.data_dir),
                        *label_args)

    def once(self) -> dict[str, Any]:
        done = self.run("run", "--once", "--format", "json", "--data-dir", str(self.data_dir))
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def software(self) -> list[str]:
        root = self.data_dir / "software"
        if not root.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*") if p.is_dir())

    @property
    def agent_id(self) -> str:
        config: dict[str, Any] = json.loads((self.data_dir / "agent.json").read_text())
        return str(config["agent_id"])


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size: int


def make_artifact(folder: Path, name: str, files: dict[str, str]) -> Artifact:
    """A reproducible .tar of ``files`` written to ``folder/name``."""
    source = folder / f".src-{name}"
    for relative, content in files.items():
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    data = build_tar(source)
    path = folder / name
    path.write_bytes(data)
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data))


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Any ASGI app on a free 127.0.0.1 port in a background thread; yields its base URL."""
    import asyncio
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    loop = asyncio.new_event_loop()

    def main() -> None:
        loop.run_until_complete(server.serve(sockets=[sock]))
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="the server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
