"""The controller runs at most ``api_threads`` blocking handlers at once and keeps a connection for each."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from datetime import UTC, datetime

import anyio.to_thread

from controller.settings import BACKGROUND_CONNECTIONS
from tests.support.fleets import minimal_fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller
from tests.support.simulated_agents import Agent


async def _tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens


def test_the_api_runs_as_many_handler_threads_as_configured_with_a_pooled_connection_each(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, minimal_fleet(), "fleet")
    with run_controller(str(repo), tmp_path / "controller", database_url, api_threads=3) as running:
        running.wait_applied(sha)
        assert running.background is not None
        assert running.background.run_on_loop(_tokens()) == 3
        with running.api() as api:  # and the API still answers through them
            assert api.get("/api/revisions").json()["applied"]["sha"] == sha
        if running.store.dialect == "postgresql":
            assert running.store.engine.pool.size() == 3 + BACKGROUND_CONNECTIONS  # type: ignore[attr-defined]


def test_an_agents_alert_report_needs_no_api_thread_once_its_credential_is_known(tmp_path, sqlite_url):
    """The report awaits its batch and the app's context is read on the event loop: with every API
    thread busy (here the only one), a report from an agent authenticated moments ago still answers."""
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, minimal_fleet(), "fleet")
    with run_controller(str(repo), tmp_path / "controller", sqlite_url, api_threads=1) as running:
        running.wait_applied(sha)
        assert running.background is not None
        running.controller.context.principals.ttl = 60.0
        agent = Agent(running, "host-1")
        report = {"alerts": [{"id": "a1", "monitor": "disk", "subject": "/", "severity": "critical",
                              "state": "raised", "message": "disk full",
                              "observed_at": datetime.now(UTC).isoformat()}]}
        with agent.http:
            assert agent.http.post("/alerts", json=report).status_code == 200  # authenticates (a thread)
            release = threading.Event()
            holding = running.background.run_on_loop(_hold_every_thread(release))
            try:
                answer = agent.http.post("/alerts", timeout=3,
                                         json=report | {"alerts": [report["alerts"][0] | {"id": "a2"}]})
            finally:
                release.set()
                holding.result(10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["stored"] == ["a2"]


async def _hold_every_thread(release: threading.Event) -> concurrent.futures.Future[None]:
    """Start a blocking call on each of the API's threads; returns once they all hold one, with a
    future that is done when they have all returned."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    started = threading.Semaphore(0)

    def block() -> None:
        started.release()
        release.wait(10)

    async def hold() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(int(limiter.total_tokens)):
                group.start_soon(anyio.to_thread.run_sync, block)
        done.set_result(None)

    done: concurrent.futures.Future[None] = concurrent.futures.Future()
    holding = asyncio.create_task(hold())
    for _ in range(int(limiter.total_tokens)):
        while not started.acquire(blocking=False):
            await asyncio.sleep(0.01)
    assert limiter.borrowed_tokens == limiter.total_tokens and not holding.done()
    _HELD.add(holding)  # keep the task referenced until it ends
    holding.add_done_callback(_HELD.discard)
    return done


_HELD: set[asyncio.Task[None]] = set()
