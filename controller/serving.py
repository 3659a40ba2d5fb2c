"""``fleetward serve``: the API server, the reconcile loop, the ref watcher and the status writer
in one asyncio event loop.

:class:`Controller` wires the parts from one :class:`ControllerSettings`; ``run`` serves
until ``stop`` is set (Ctrl-C in the CLI). The demo and the integration tests use the
same class, so what they exercise is what production runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread
import uvicorn

from controller.api.app import create_app
from controller.api.context import ApiContext
from controller.errors import ConfigError
from controller.gitsource import RepoMirror, watch_refs
from controller.ingesting import AlertRecorder, InventoryIngester, SeenStamper
from controller.jobs.signing import JobSigner
from controller.offline import OfflineWatcher
from controller.reconciling import Reconciler
from controller.secrets import KeyFolder, SealedSecrets
from controller.settings import BACKGROUND_CONNECTIONS, ControllerSettings
from controller.status.publishing import StatusPublisher
from controller.store import Store
from controller.tickets.applying import TicketWorker
from controller.tickets.delivering import OutboxDelivery
from controller.tickets.syncing import TicketSync
from controller.warranty import WarrantyRefresher

log = logging.getLogger(__name__)
T = TypeVar("T")

KEEP_ALIVE_SECONDS = 15
"""How long an idle connection stays open. Longer than the agent's own idle limit (httpx's 5 s),
so the agent always closes first: at equal limits a request sent on a connection as the server
closes it is lost in flight (the agent sees "server disconnected" and retries a report it sent)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Controller:
    def __init__(self, settings: ControllerSettings, *, clock: Callable[[], datetime] = utc_now) -> None:
        if not settings.repo:
            raise ConfigError("no fleet repository given", hint="pass --repo PATH_OR_URL")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.store = Store.open(settings.database_url, pool_size=settings.api_threads + BACKGROUND_CONNECTIONS)
        self.signer = JobSigner.load_or_create(settings.data_dir / "keys")
        self.sealing_keys = KeyFolder(settings.data_dir / "keys")
        self.sealing_keys.ensure()
        self.sealed = SealedSecrets(self.sealing_keys)
        self.mirror = RepoMirror(settings.repo, settings.data_dir / "repo.git", protected={settings.branch})
        self.reconciler = Reconciler(settings, self.store, self.mirror, clock, sealed=self.sealed)
        self.publisher = StatusPublisher(settings, self.store, self.mirror, self.reconciler, clock)
        self.context = ApiContext(store=self.store, signer=self.signer, settings=settings, clock=clock,
                                  notifier=self.reconciler, source_health=lambda: self.reconciler.source,
                                  desired_state=lambda: self.reconciler.applied, mirror=self.mirror,
                                  request_fetch=self.reconciler.request_fetch,
                                  policy_bundles=self.reconciler.policy_bundles,
                                  ingester=InventoryIngester(self.store), seen=SeenStamper(self.store))
        self.context.webhook_secret = self._webhook_secret
        self.reconciler.job_listeners.append(self.context.principals.forget)
        self.app = create_app(self.context)
        self.app.state.sealing_keys = self.sealing_keys
        self.warranty = WarrantyRefresher(self.store, self.sealed, clock, lambda: self.reconciler.applied,
                                          interval=settings.warranty_interval)
        self.app.state.warranty = self.warranty
        self.tickets = TicketWorker(self.store, lambda: self.reconciler.applied)
        self.context.alerts_changed = self.tickets.alerts_changed
        self.context.alert_recorder = AlertRecorder(self.store, self.tickets.alerts_changed)
        self.deliveries = OutboxDelivery(self.store, self.sealed, lambda: self.reconciler.applied)
        self.offline = OfflineWatcher(self.store, lambda: self.reconciler.applied, clock)
        self.ticket_sync = TicketSync(self.store, self.sealed, lambda: self.reconciler.applied)
        self.bound_port: int | None = None
        self._file_secret: bytes | None = None

    def _webhook_secret(self) -> bytes | None:
        """From --webhook-secret-file (read once), else the applied Fleet's sealed webhookSecret,
        opened in memory; None when neither is set (webhooks are then refused)."""
        if self.settings.webhook_secret_file is not None:
            if self._file_secret is None:
                try:
                    text = self.settings.webhook_secret_file.read_text(encoding="utf-8").strip()
                except OSError as error:
                    raise ConfigError(f"cannot read --webhook-secret-file: {error.strerror}") from None
                self._file_secret = text.encode() if text else None
            return self._file_secret
        applied = self.reconciler.applied
        if applied is not None and applied.fleet.webhook_secret:
            return self.sealed.open(applied.fleet.webhook_secret).reveal().encode()
        return None

    async def run(self, stop: asyncio.Event, *, sock: socket.socket | None = None,
                  ready: Callable[[str], None] | None = None) -> None:
        host, port = self.settings.host_port
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off",
                                access_log=False, timeout_graceful_shutdown=3,
                                timeout_keep_alive=KEEP_ALIVE_SECONDS)
        server = _EmbeddedServer(config)
        # FastAPI runs blocking handlers on this loop's default thread limiter (see DEFAULT_API_THREADS).
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.settings.api_threads
        tasks = [
            asyncio.create_task(self.reconciler.run(stop), name="reconciler"),
            asyncio.create_task(self.publisher.run(stop), name="status"),
            asyncio.create_task(server.serve(sockets=[sock] if sock else None), name="api"),
            asyncio.create_task(self.warranty.run(stop), name="warranty"),
            asyncio.create_task(self.tickets.run(stop), name="tickets"),
            asyncio.create_task(self.deliveries.run(stop), name="ticket-outbox"),
            asyncio.create_task(self.offline.run(stop), name="agent-offline"),
            asyncio.create_task(self.ticket_sync.run(stop), name="ticket-sync"),
        ]
        if self.mirror.is_local and self.settings.watch_local:
            tasks.append(asyncio.create_task(self._watch(stop), name="watcher"))
        while not server.started:
            if tasks[2].done():
                tasks[2].result()
                raise ConfigError(f"the API server could not listen on {host}:{port}")
            await asyncio.sleep(0.02)
        self.bound_port = _bound_port(server) or port
        if ready is not None:
            ready(f"http://{_url_host(host)}:{self.bound_port}")
        await stop.wait()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in (self.context.ingester, self.context.alert_recorder, self.context.seen):
            if writer is not None:
                writer.close()
        self.store.close()

    async def _watch(self, stop: asyncio.Event) -> None:
        git_dir = self.mirror.local_git_dir
        if git_dir is None:
            return
        try:
            async for _ in watch_refs(git_dir, self.settings.branch, stop):
                self.reconciler.request_fetch()
        except Exception:
            log.exception("watching %s failed; falling back to polling every %ss", git_dir,
                          self.settings.fetch_interval)


class BackgroundController:
    """Runs a :class:`Controller` in its own event loop on a background thread.

    For the demo and the integration tests: ``start()`` returns the API's URL once it listens,
    ``stop()`` shuts everything down the same way Ctrl-C does in ``fleetward serve``.
    """

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="controller", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def body() -> None:
            self._stop = asyncio.Event()
            await self.controller.run(self._stop, ready=self._on_ready)

        try:
            self._loop.run_until_complete(body())
        except BaseException as error:  # reported to the starting thread
            self._error = error
            self._ready.set()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def _on_ready(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def start(self) -> str:
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise self._error
        if not self.url:
            raise ConfigError("the controller did not start within 30 s")
        return self.url

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)

    def run_on_loop(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coroutine`` on the controller's event loop and return its result (for tests and tools
        that must look at loop-bound state, such as the API's thread limiter)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)



class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the caller owns Ctrl-C and sets ``stop``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bound_port(server: uvicorn.Server) -> int | None:
    for listener in getattr(server, "servers", []):
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
