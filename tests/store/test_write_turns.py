"""SQLite's one writer: this process's threads take turns, and a priority writer goes before the queue."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from controller.store import Store


def test_a_priority_writer_goes_before_the_queued_writers(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'fleetward.db'}")
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write() as session:
            session.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)
            order.append("holder")

    def write(name: str, priority: bool = False) -> None:
        with store.write(priority=priority) as session:
            session.execute(text("SELECT 1"))
            order.append(name)

    threads = [threading.Thread(target=hold)]
    threads[0].start()
    assert holding.wait(10)
    for number in range(6):
        threads.append(threading.Thread(target=write, args=(f"writer-{number}",)))
        threads[-1].start()
    time.sleep(0.3)  # the ordinary writers queue up
    threads.append(threading.Thread(target=write, args=("worker", True)))
    threads[-1].start()
    time.sleep(0.3)
    release.set()
    for thread in threads:
        thread.join(10)
    store.close()
    assert len(order) == 8 and order[0] == "holder"
    assert order[1] == "worker", order
