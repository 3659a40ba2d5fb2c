"""Notice at once when a local repository's branch moves, instead of waiting for the next poll.

For a source on this machine, the controller reacts to a commit within about a second. A
branch tip lives in one of two files: the loose ref ``refs/heads/<branch>`` or, after
``git pack-refs``/``gc``, a line of ``packed-refs``. Neither needs to exist yet (a new
branch, a fresh clone), and a loose ref's folders come and go (``refs/heads/release``
for ``release/1.0``, removed by ``pack-refs``), so we watch — not recursively, to stay
clear of ``objects/`` churn — the chain of folders from the git dir down to the ref's
folder, as far as it exists, and restart the watch whenever a folder in that chain
appears or disappears. Events are filtered to the ref file, ``packed-refs`` and the
chain itself; git's ``*.lock`` files are ignored.

A yield only says "look now"; the caller fetches and compares shas, so a spurious
wake-up costs one cheap fetch and a missed one is caught by the regular poll.

The watch blocks on a thread of its own. watchfiles' ``awatch`` would block on a thread of
anyio's default limiter, which is also where FastAPI runs the API's blocking handlers
(``--api-threads``): for as long as the controller ran it held one of those threads, and with
``--api-threads 1`` the API answered nothing at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import cast

from watchfiles import Change, watch

from controller.errors import ConfigError
from controller.gitsource.refnames import check_branch

DEBOUNCE_MS = 200
STEP_MS = 50


async def watch_refs(git_dir: Path, branch: str, stop: asyncio.Event) -> AsyncIterator[None]:
    """Yield soon (debounced ~200 ms) after ``refs/heads/<branch>`` of ``git_dir`` may have changed.

    ``git_dir`` is the directory holding refs (``.git``, or a bare repository). Ends when
    ``stop`` is set. ConfigError if ``git_dir`` is not a directory.
    """
    check_branch(branch)
    if not Path(git_dir).is_dir():
        raise ConfigError(f"cannot watch {git_dir}: it is not a directory",
                          hint="point at the repository's git directory (.git or the bare repository)")
    # Absolute, so the paths in events compare equal to ours.
    git_dir = Path(git_dir).resolve()
    parts = ["refs", "heads", *branch.split("/")]
    chain = [git_dir]
    for folder in parts[:-1]:
        chain.append(chain[-1] / folder)
    ref_file = chain[-1] / parts[-1]
    interesting = {ref_file, git_dir / "packed-refs", *chain[1:]}

    def relevant(_change: Change, path: str) -> bool:
        return Path(path) in interesting

    while not stop.is_set():
        watched = [folder for folder in chain if folder.is_dir()]
        restart = False
        async with aclosing(_changes(watched, relevant, stop)) as batches:
            async for _batch in batches:
                yield None
                if [folder for folder in chain if folder.is_dir()] != watched:
                    restart = True
                    break
        if not restart:
            return


_END = object()


async def _changes(folders: list[Path], relevant: Callable[[Change, str], bool],
                   stop: asyncio.Event) -> AsyncGenerator[set[tuple[Change, str]], None]:
    """watchfiles' blocking ``watch`` of ``folders`` (not recursive) on a thread of its own, its
    batches handed to this loop; ends when ``stop`` is set or the caller stops iterating."""
    loop = asyncio.get_running_loop()
    batches: asyncio.Queue[object] = asyncio.Queue()
    halt = threading.Event()

    def hand_over(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(batches.put_nowait, item)

    def run() -> None:
        try:
            for batch in watch(*folders, watch_filter=relevant, debounce=DEBOUNCE_MS, step=STEP_MS,
                               stop_event=halt, recursive=False, raise_interrupt=False):
                hand_over(batch)
        except Exception as error:  # e.g. a watched folder removed as the watch started
            hand_over(error)
        finally:
            hand_over(_END)

    threading.Thread(target=run, name="ref-watch", daemon=True).start()
    stopped = asyncio.create_task(stop.wait())
    try:
        while True:
            taken = asyncio.create_task(batches.get())
            await asyncio.wait({taken, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not taken.done():
                taken.cancel()
                return
            item = taken.result()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield cast(set[tuple[Change, str]], item)
    finally:
        halt.set()  # the thread sees it within STEP_MS and ends
        stopped.cancel()
