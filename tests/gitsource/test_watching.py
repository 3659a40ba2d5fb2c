"""Noticing quickly when a local repository's branch moves (loose refs and packed-refs)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.to_thread
import pytest

from controller.errors import ConfigError
from controller.gitsource import watch_refs
from tests.support.gitrepos import commit, git, init_repo

NOTICE_WITHIN = 2.0
SETTLE = 0.3  # let the watcher start, and let an earlier change's events pass


class Watching:
    """Runs watch_refs in a task and records when it yields."""

    def __init__(self, git_dir: Path, branch: str) -> None:
        self.stop = asyncio.Event()
        self.seen: asyncio.Queue[float] = asyncio.Queue()
        self.task = asyncio.create_task(self._run(git_dir, branch))

    async def _run(self, git_dir: Path, branch: str) -> None:
        async for _ in watch_refs(git_dir, branch, self.stop):
            self.seen.put_nowait(time.monotonic())

    async def settle(self) -> None:
        await asyncio.sleep(SETTLE)
        while not self.seen.empty():
            self.seen.get_nowait()

    async def notices(self, change: Callable[[], object]) -> float:
        """Seconds from ``change`` to the watcher's yield."""
        await self.settle()
        started = time.monotonic()
        await asyncio.to_thread(change)
        seen = await asyncio.wait_for(self.seen.get(), timeout=NOTICE_WITHIN)
        return seen - started

    async def stays_quiet(self, change: Callable[[], object], seconds: float = 0.8) -> bool:
        await self.settle()
        await asyncio.to_thread(change)
        await asyncio.sleep(seconds)
        return self.seen.empty()

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=2.0)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


@pytest.fixture
def work(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "fleet")
    commit(repo, {"fleet.yaml": "x: 0\n"}, "first")
    return repo


def rewrite_packed_ref(git_dir: Path, ref: str, sha: str) -> None:
    """Point ``ref`` at ``sha`` in packed-refs only, replacing the file as git does (rename)."""
    packed = git_dir / "packed-refs"
    lines = [line for line in packed.read_text().splitlines() if not line.endswith(f" {ref}")]
    (git_dir / "packed-refs.new").write_text("\n".join([*lines, f"{sha} {ref}"]) + "\n")
    (git_dir / "packed-refs.new").replace(packed)


def test_a_commit_to_the_branch_is_noticed(work):
    async def scenario() -> None:
        watching = Watching(work / ".git", "main")
        delay = await watching.notices(lambda: commit(work, {"fleet.yaml": "x: 1\n"}))
        await watching.close()
        assert delay < NOTICE_WITHIN

    run(scenario)


def test_changes_are_noticed_after_refs_are_packed(work):
    async def scenario() -> None:
        watching = Watching(work / ".git", "main")
        await watching.notices(lambda: git(work, "pack-refs", "--all"))
        assert not (work / ".git/refs/heads/main").exists()
        # A later commit writes a loose ref again ...
        await watching.notices(lambda: commit(work, {"fleet.yaml": "x: 2\n"}))
        git(work, "pack-refs", "--all")
        # ... and a tool that rewrites packed-refs alone (as git does when it deletes a packed
        # ref, or a clone writes it) is noticed too.
        older = git(work, "rev-parse", "HEAD~1")
        await watching.notices(lambda: rewrite_packed_ref(work / ".git", "refs/heads/main", older))
        await watching.close()

    run(scenario)


def test_a_branch_in_a_folder_that_does_not_exist_yet(work):
    async def scenario() -> None:
        watching = Watching(work / ".git", "release/2024")
        assert not (work / ".git/refs/heads/release").exists()
        await watching.notices(lambda: git(work, "branch", "release/2024"))
        await watching.notices(lambda: git(work, "pack-refs", "--all"))  # removes refs/heads/release
        assert not (work / ".git/refs/heads/release").exists()
        await watching.notices(lambda: git(work, "branch", "-f", "release/2024", "HEAD"))
        await watching.close()

    run(scenario)


def test_other_branches_and_objects_do_not_wake_it(work):
    async def scenario() -> None:
        git(work, "branch", "proposal")
        watching = Watching(work / ".git", "main")

        def elsewhere() -> None:
            git(work, "checkout", "-q", "proposal")
            commit(work, {"fleet.yaml": "x: 9\n"}, "on a proposal branch")

        assert await watching.stays_quiet(elsewhere)
        await watching.close()

    run(scenario)


def test_watches_a_bare_repository_receiving_a_push(work, tmp_path):
    bare = init_repo(tmp_path / "bare.git", bare=True)
    git(work, "push", "-q", str(bare), "main")

    async def scenario() -> None:
        watching = Watching(bare, "main")

        def push() -> None:
            commit(work, {"fleet.yaml": "x: 3\n"})
            git(work, "push", "-q", str(bare), "main")

        await watching.notices(push)
        await watching.close()

    run(scenario)


def test_ends_when_stop_is_set(work):
    async def scenario() -> None:
        watching = Watching(work / ".git", "main")
        await watching.settle()
        started = time.monotonic()
        await watching.close()
        assert time.monotonic() - started < 1.0
        assert watching.task.done() and watching.task.exception() is None

    run(scenario)


def test_a_missing_git_dir_is_a_config_error(tmp_path):
    async def scenario() -> None:
        async for _ in watch_refs(tmp_path / "nowhere", "main", asyncio.Event()):
            pass

    with pytest.raises(ConfigError, match="not a directory"):
        run(scenario)


def test_watching_takes_none_of_the_api_threads_and_its_thread_ends_with_it(work):
    """FastAPI runs blocking handlers on anyio's default limiter (``--api-threads``): the watch
    must not hold one of its tokens for as long as it runs."""
    async def scenario() -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        watching = Watching(work / ".git", "main")
        await watching.notices(lambda: commit(work, {"fleet.yaml": "x: 1\n"}))
        assert limiter.borrowed_tokens == 0
        assert any(thread.name == "ref-watch" for thread in threading.enumerate())
        await watching.close()

    run(scenario)
    deadline = time.monotonic() + 5
    while any(thread.name == "ref-watch" for thread in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(thread.name == "ref-watch" for thread in threading.enumerate())
