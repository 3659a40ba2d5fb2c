"""The controller runs at most ``api_threads`` blocking handlers at once and keeps a connection for each."""

from __future__ import annotations

import anyio.to_thread

from controller.settings import BACKGROUND_CONNECTIONS
from tests.support.fleets import minimal_fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller


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
