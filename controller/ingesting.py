"""Group commit for agents' reports: many agents' reports, one transaction.

Thousands of agents report inventory and alerts; written one transaction each, a report
costs a commit and several round trips, and the database's per-transaction cost (on
SQLite, the wait for its one writer) caps the rate. A :class:`GroupWriter` puts every
report the API receives on a queue; one writer thread takes whatever has queued up (at
most ``max_batch``), stores it with one call that writes many reports in one transaction,
then wakes each waiting request with its own answer. When reports arrive one at a time a
batch holds one report and nothing waits longer than before; under load batches grow by
themselves and the rate with them.

A batch that fails (one report for an agent revoked a moment ago, a lost connection) is
retried report by report, so one bad report never costs the others their write; each
request gets its own report's error.

Three writers use it: :class:`InventoryIngester` (:func:`controller.store.ingest_inventories`),
:class:`AlertRecorder` (:func:`controller.store.record_alert_reports`, which also tells
the ticket worker once per committed batch which alerts changed) and :class:`SeenStamper`
(agents' ``last_seen_at``, which no request waits for).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Generic, TypeVar

from controller.store import (
    InventoryUpload,
    ReportedAlerts,
    Store,
    ingest_inventories,
    record_alert_reports,
    stamp_last_seen_many,
)
from schemas.protocol import InventorySection

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 200

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """Writes items in batches on one writer thread (started on first use).

    ``write_many`` stores a list of items in one transaction and returns one result per item,
    in order; it is called on the writer thread only, so batches never overlap. ``committed``
    (optional) hears each written batch's results after its commit, before any request wakes.
    """

    def __init__(self, name: str, write_many: Callable[[list[Item]], list[Result]], *,
                 committed: Callable[[list[Result]], None] | None = None,
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.name = name
        self.max_batch = max(1, max_batch)
        self._write_many = write_many
        self._committed = committed
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        """How many transactions were written (for tests and metrics)."""

    def submit(self, item: Item) -> Result:
        """Store ``item`` (blocking until its batch is committed); its result, or its error raised."""
        return self.enqueue(item).result()

    def enqueue(self, item: Item) -> Future[Result]:
        """Queue ``item`` for the next batch; the future holds its result once the batch is committed.

        For callers that must not hold a thread while they wait (an async request handler awaits it
        with ``asyncio.wrap_future``). An item whose future is cancelled before its batch begins is
        not written."""
        future: Future[Result] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{self.name}-writer", daemon=True)
                self._thread.start()
            self._queue.put((item, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            # Running from here on, so no longer cancellable: each future gets its answer.
            batch = [entry for entry in batch if entry[1].set_running_or_notify_cancel()]
            if batch:
                self._write(batch)
            if stop:
                return

    def _write(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        try:
            results = self._write_many([item for item, _future in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            log.info("a %s batch of %d failed (%s); writing its items one by one", self.name, len(batch),
                     type(error).__name__)
            for entry in batch:
                self._write([entry])
            return
        self.batches += 1
        if self._committed is not None:
            try:
                self._committed(results)
            except Exception:  # the write stands; whoever listens catches up on its own schedule
                log.exception("telling about a committed %s batch failed", self.name)
        for (_item, future), result in zip(batch, results, strict=True):
            future.set_result(result)


class InventoryIngester(GroupWriter[tuple[InventoryUpload, datetime], list[InventorySection]]):
    """Stores inventory reports in batches with :func:`controller.store.ingest_inventories`."""

    def __init__(self, store: Store, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        super().__init__("inventory", self._ingest_many, max_batch=max_batch)
        self.store = store

    def ingest(self, upload: InventoryUpload, now: datetime) -> list[InventorySection]:
        """Store ``upload`` (blocking until its batch is committed); its accepted sections."""
        return self.submit((upload, now))

    def _ingest_many(self, items: list[tuple[InventoryUpload, datetime]]) -> list[list[InventorySection]]:
        now = max(when for _upload, when in items)
        return ingest_inventories(self.store, [upload for upload, _when in items], now)


class AlertRecorder(GroupWriter[ReportedAlerts, list[int]]):
    """Stores agents' alert reports in batches with :func:`controller.store.record_alert_reports`.

    ``alerts_changed`` hears every alert a committed batch touched, once per batch: the ticket
    worker then acts on the whole batch in one pass instead of being woken report by report.
    """

    def __init__(self, store: Store, alerts_changed: Callable[[Iterable[int]], None], *,
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        super().__init__("alert", self._record_many, committed=self._tell, max_batch=max_batch)
        self.store = store
        self.alerts_changed = alerts_changed

    def record(self, report: ReportedAlerts) -> list[int]:
        """Store ``report`` (blocking until its batch is committed); the ids of the alerts it touched."""
        return self.submit(report)

    def _record_many(self, reports: list[ReportedAlerts]) -> list[list[int]]:
        return record_alert_reports(self.store, reports)

    def _tell(self, touched: Sequence[list[int]]) -> None:
        self.alerts_changed(itertools.chain.from_iterable(touched))


class SeenStamper(GroupWriter[tuple[str, datetime], None]):
    """Writes agents' check-in times (``last_seen_at``) in batches, off the request path.

    Authentication finds an agent's stored time stale every 30 s; a request that had to write it
    waited for the database's writer (on SQLite, behind every report being stored) before it could
    answer. :meth:`stamp` queues the time and returns at once. A time not yet written when the
    controller stops is lost, which costs at most one check-in's worth of "last seen".
    """

    def __init__(self, store: Store, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        super().__init__("last-seen", self._stamp_many, max_batch=max_batch)
        self.store = store

    def stamp(self, agent_id: str, now: datetime) -> None:
        """Queue ``agent_id``'s check-in at ``now``; a failed write is logged, never raised here.

        Once the stamper is closed (the controller stopping) the time is written at once instead."""
        try:
            queued = self.enqueue((agent_id, now))
        except RuntimeError:
            self._stamp_many([(agent_id, now)])
            return
        queued.add_done_callback(self._failed)

    def _stamp_many(self, items: list[tuple[str, datetime]]) -> list[None]:
        latest: dict[str, datetime] = {}
        for agent_id, when in items:
            latest[agent_id] = max(when, latest.get(agent_id, when))
        stamp_last_seen_many(self.store, latest)
        return [None] * len(items)

    @staticmethod
    def _failed(future: Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("recording an agent's check-in time failed: %s", future.exception())
