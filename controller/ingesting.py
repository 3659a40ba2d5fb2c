"""Group commit for inventory reports: many agents' reports, one transaction.

Thousands of agents report inventory; written one transaction each, a report costs a
commit and half a dozen round trips, and the database's per-transaction cost caps the
rate. The :class:`InventoryIngester` puts every report the API receives on a queue; one
writer thread takes whatever has queued up (at most ``max_batch``) and stores it with
:func:`controller.store.ingest_inventories`, then wakes each waiting request with its own
answer. When reports arrive one at a time a batch holds one report and nothing waits
longer than before; under load batches grow by themselves and the rate with them.

A batch that fails (one report for an agent revoked a moment ago, a lost connection) is
retried report by report, so one bad report never costs the others their write; each
request gets its own report's error.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from datetime import datetime

from controller.store import InventoryUpload, Store, ingest_inventories
from schemas.protocol import InventorySection

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 200


class InventoryIngester:
    """Stores inventory reports in batches on one writer thread (started on first use)."""

    def __init__(self, store: Store, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[tuple[InventoryUpload, datetime, Future[list[InventorySection]]] | None] = (
            queue.SimpleQueue())
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        """How many transactions were written (for tests and metrics)."""

    def ingest(self, upload: InventoryUpload, now: datetime) -> list[InventorySection]:
        """Store ``upload`` (blocking until its batch is committed); its accepted sections."""
        future: Future[list[InventorySection]] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the inventory ingester is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="inventory-writer", daemon=True)
                self._thread.start()
            self._queue.put((upload, now, future))
        return future.result()

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
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[tuple[InventoryUpload, datetime, Future[list[InventorySection]]]]) -> None:
        now = max(when for _upload, when, _future in batch)
        try:
            results = ingest_inventories(self.store, [upload for upload, _when, _future in batch], now)
        except Exception as error:
            if len(batch) == 1:
                batch[0][2].set_exception(error)
                return
            log.info("an inventory batch of %d failed (%s); writing its reports one by one", len(batch),
                     type(error).__name__)
            for item in batch:
                self._write([item])
            return
        self.batches += 1
        for (_upload, _when, future), accepted in zip(batch, results, strict=True):
            future.set_result(accepted)
