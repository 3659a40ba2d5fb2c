"""A group writer held on its first batch, so that what is sent after it queues up behind it.

Tests of group commit (``controller.ingesting``) then know which reports share a batch: the
first one alone, everything sent while it was held together in the next.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any, Generic, TypeVar

import pytest

from controller.ingesting import GroupWriter

Item = TypeVar("Item")
Result = TypeVar("Result")


class HeldWriter(Generic[Item, Result]):
    """Holds ``writer``'s first call of ``module.function`` (the store function it writes with) until
    :meth:`release`; each item sent runs on its own thread, as a request would."""

    def __init__(self, writer: GroupWriter[Item, Result], monkeypatch: pytest.MonkeyPatch, module: ModuleType,
                 function: str) -> None:
        self.writer = writer
        self.gate = threading.Event()
        self.holding = threading.Event()
        real = getattr(module, function)
        calls: list[int] = []

        def held(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                self.holding.set()
                self.gate.wait(10)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, function, held)
        self.outcomes: dict[str, object] = {}
        """What each sender got back: its result, or the error raised to it."""
        self.threads: list[threading.Thread] = []

    def send(self, name: str, item: Item) -> None:
        def run() -> None:
            try:
                self.outcomes[name] = self.writer.submit(item)
            except Exception as error:
                self.outcomes[name] = error

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()

    def wait_held(self) -> None:
        """Until the writer has taken the first item and is held writing it."""
        assert self.holding.wait(10)

    def wait_queued(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while self.writer._queue.qsize() != count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.writer._queue.qsize() == count

    def release(self) -> None:
        self.gate.set()
        for thread in self.threads:
            thread.join(10)
        self.writer.close()
