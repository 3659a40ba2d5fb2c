"""Commit the rendered status to the status branch, at most once per interval, and push it.

Never the applied branch (refused), so status commits never trigger a reconcile. An
unchanged fleet renders identical files, which makes no commit. A rejected push
(another writer got there first) is retried on top of the new tip; a push that
fails outright is retried at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from datetime import datetime

from controller.errors import FleetwardError
from controller.gitsource import RepoMirror, commit_files, push_branch
from controller.reconciling import Reconciler
from controller.settings import ControllerSettings
from controller.status.collecting import collect_snapshot
from controller.status.rendering import DeviceFileCache, render_status
from controller.store import Store
from controller.store.agents import LAST_SEEN_RESOLUTION
from schemas.fleet import DEFAULT_STATUS_BRANCH

log = logging.getLogger(__name__)


class StatusPublisher:
    def __init__(self, settings: ControllerSettings, store: Store, mirror: RepoMirror,
                 reconciler: Reconciler, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self.mirror = mirror
        self.reconciler = reconciler
        self.clock = clock
        self.author = ("Fleetward", f"fleetward@{socket.gethostname() or 'localhost'}")
        self.commits = 0
        self._unpushed = False
        self.last_error: str | None = None
        self._device_files = DeviceFileCache()
        self._last_files: dict[str, bytes] = {}
        self._last_branch = ""

    @property
    def branch(self) -> str:
        applied = self.reconciler.applied
        return applied.fleet.status_branch if applied is not None else DEFAULT_STATUS_BRANCH

    def publish_once(self) -> str | None:
        """Render, commit if anything changed, push. Returns the new commit, if one was made."""
        branch = self.branch
        if branch == self.settings.branch:
            self.last_error = (f"statusBranch {branch!r} is the applied branch; status is not written "
                               f"(set another statusBranch in fleet.yaml)")
            log.error(self.last_error)
            return None
        # last_seen_at is written at most every LAST_SEEN_RESOLUTION: a shorter window would show
        # agents that check in every few seconds as offline part of the time.
        online_window = max(3 * self.settings.checkin_interval, 2 * LAST_SEEN_RESOLUTION.total_seconds())
        snapshot = collect_snapshot(self.store, self.reconciler.applied, self.reconciler.source,
                                    self.clock(), online_window=online_window)
        files = render_status(snapshot, self._device_files)
        if files == self._last_files and branch == self._last_branch and not self._unpushed:
            return None  # nothing changed since the last report: no git work at all
        applied = snapshot.applied.sha[:12] if snapshot.applied else "none"
        devices = sum(len(client.devices) for client in snapshot.clients)
        message = f"Status: {devices} device{'s' if devices != 1 else ''}, applied revision {applied}"

        def commit() -> str | None:
            return commit_files(self.mirror, branch, files, message, self.author)

        sha = commit()
        if sha is not None or self._unpushed:
            self._unpushed = True
            push_branch(self.mirror, branch, rebuild=commit)
            self._unpushed = False
        self._last_files, self._last_branch = dict(files), branch
        if sha is not None:
            self.commits += 1
            log.info("status committed to %s: %s", branch, sha[:12])
        self.last_error = None
        return sha

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.reconciler.passes > 0:
                try:
                    await asyncio.to_thread(self.publish_once)
                except FleetwardError as error:
                    self.last_error = str(error)
                    log.warning("status not published (retrying next interval): %s", error)
                except Exception:
                    log.exception("status publishing crashed (retrying next interval)")
                interval = self.settings.status_interval
            else:
                interval = 0.5  # wait for the first reconcile pass before the first report
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
