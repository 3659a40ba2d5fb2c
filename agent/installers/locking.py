"""One install at a time per device: an OS file lock every installing process takes.

The lock file lives in a folder shared by every agent data dir on the machine
(``<data dir>/..`` is not shared, so the caller passes the path); within one
process a thread lock serialises jobs too. Waiting is bounded: a device busy
for longer than ``wait_seconds`` turns the job into a "retry later" failure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agent.errors import TemporaryError
from agent.state import try_lock_file, unlock_file

_IN_PROCESS = threading.Lock()


class DeviceBusy(TemporaryError):
    """Another install holds the device's install lock."""


@contextlib.contextmanager
def install_lock(path: Path, *, wait_seconds: float, poll_seconds: float = 0.2) -> Iterator[None]:
    deadline = time.monotonic() + wait_seconds
    if not _IN_PROCESS.acquire(timeout=max(wait_seconds, 0.0)):
        raise DeviceBusy(f"another install is running in this agent (waited {wait_seconds:.0f}s)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as handle:
            while not try_lock_file(handle):
                if time.monotonic() >= deadline:
                    raise DeviceBusy(f"another install holds {path} (waited {wait_seconds:.0f}s)",
                                     hint="the job is retried later")
                time.sleep(poll_seconds)
            try:
                yield
            finally:
                unlock_file(handle)
    finally:
        _IN_PROCESS.release()

