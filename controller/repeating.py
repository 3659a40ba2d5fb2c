"""The controller's background passes: one now, then one every ``interval`` seconds until stopped.

A pass runs on a worker thread (it does blocking database and HTTP work). A pass that fails is
logged and the loop goes on: the database or a vendor being away for a moment must not end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable


async def every(interval: float, work: Callable[[], object], stop: asyncio.Event, *, what: str,
                log: logging.Logger) -> None:
    """Run ``work`` now and every ``interval`` seconds until ``stop`` is set; ``what`` names it in logs."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(work)
        except Exception:
            log.exception("%s failed; trying again in %g s", what, interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
