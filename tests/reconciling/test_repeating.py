"""The background passes' loop: a pass now, then every interval; a failing pass is logged, not fatal."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest

from controller.repeating import every


def test_a_pass_runs_now_and_again_after_a_failure_and_the_loop_stops_when_asked(caplog: pytest.LogCaptureFixture):
    calls: list[float] = []

    def work() -> None:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("the database is away")

    async def scenario() -> float:
        stop = asyncio.Event()
        loop = asyncio.create_task(every(0.05, work, stop, what="test pass", log=logging.getLogger("tests.repeat")))
        while len(calls) < 4:
            await asyncio.sleep(0.01)
        stop.set()
        asked = time.monotonic()
        await asyncio.wait_for(loop, timeout=5)
        return time.monotonic() - asked

    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="tests.repeat"):
        stopping = asyncio.run(scenario())
    assert calls[0] - started < 1.0  # the first pass does not wait an interval
    assert all(later - earlier >= 0.04 for earlier, later in itertools.pairwise(calls))
    assert [record.getMessage() for record in caplog.records] == ["test pass failed; trying again in 0.05 s"]
    assert caplog.records[0].exc_info is not None
    assert stopping < 1.0  # a wait between passes ends as soon as stop is set
