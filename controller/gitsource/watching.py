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
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

from watchfiles import Change, awatch

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
        changes = awatch(*watched, watch_filter=relevant, debounce=DEBOUNCE_MS, step=STEP_MS,
                         stop_event=stop, recursive=False)
        async with aclosing(changes) as batches:
            async for _batch in batches:
                yield None
                if [folder for folder in chain if folder.is_dir()] != watched:
                    restart = True
                    break
        if not restart:
            return
