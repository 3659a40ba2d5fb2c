"""Keeping warranties current: manual records first, then vendors for due serials, then alerts.

:class:`WarrantyRefresher` is long-lived (one per controller): it keeps the vendor providers,
and with them their OAuth tokens, until fleet.yaml's ``spec.warranty`` changes. Its
``run`` loop lives beside the reconcile loop, never in it: each pass runs in a worker
thread, so a slow vendor never delays jobs, and no vendor failure ends the loop; failures
are recorded on the serials concerned and shown by the API and as alerts.

A pass (:meth:`WarrantyRefresher.refresh`):

1. applies the applied revision's ``Warranty`` records (they win over lookups);
2. asks each configured vendor about its due serials, in the vendor's batch size; a failed
   batch records the error on its serials (the cached answer stays); after refused
   credentials or a rate limit the vendor is not asked again in this pass;
3. raises and clears the expiry alerts.

:func:`lookup_now` is the same step 2 for given serials, fresh or not (the API's
``?refresh=true`` and the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from controller.desired import DesiredState
from controller.errors import FleetwardError
from controller.secrets import SealedSecrets
from controller.store import Store
from controller.warranty.alerting import refresh_alerts
from controller.warranty.errors import WarrantySetupError
from controller.warranty.providers import WarrantyProvider, build_provider
from controller.warranty.records import (
    DueSerial,
    apply_manual_records,
    due_serials,
    inventory_serials,
    record_failure,
    record_results,
)
from controller.warranty.serials import chunks
from schemas.fleet import WarrantySettings

log = logging.getLogger(__name__)

VENDORS = ("dell", "lenovo", "hp")
DEFAULT_INTERVAL = 900.0
REVISION_CHECK_INTERVAL = 15.0
"""How soon a new revision's Warranty records show, between vendor passes."""


@dataclass
class RefreshReport:
    """What one pass did; logged, and returned to the API and the demo."""

    asked: dict[str, int] = field(default_factory=dict)
    found: int = 0
    not_found: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """Vendor -> the last error of this pass."""
    manual_changes: int = 0
    open_alerts: int = 0

    def merge_failure(self, vendor: str, error: FleetwardError) -> None:
        self.failed[vendor] = str(error)


ProviderBuilder = Callable[[str, WarrantySettings, SealedSecrets, httpx.BaseTransport | None],
                           WarrantyProvider | None]


class ProviderSet:
    """The providers of one ``spec.warranty``, rebuilt when it changes (tokens live as long as they do)."""

    def __init__(self, sealed: SealedSecrets, *, transport: httpx.BaseTransport | None = None,
                 builder: ProviderBuilder = build_provider) -> None:
        self._sealed = sealed
        self._transport = transport
        self._builder = builder
        self._lock = threading.Lock()
        self._settings: str | None = None
        self._providers: dict[str, WarrantyProvider] = {}
        self._problems: dict[str, WarrantySetupError] = {}

    def current(self, settings: WarrantySettings) -> tuple[dict[str, WarrantyProvider], dict[str, WarrantySetupError]]:
        """(providers, vendors whose settings cannot be used) for ``settings``."""
        key = settings.model_dump_json()  # sealed text only: never a plaintext credential
        with self._lock:
            if key != self._settings:
                self._close()
                self._providers, self._problems = {}, {}
                for vendor in VENDORS:
                    try:
                        provider = self._builder(vendor, settings, self._sealed, self._transport)
                    except WarrantySetupError as problem:
                        self._problems[vendor] = problem
                        continue
                    if provider is not None:
                        self._providers[vendor] = provider
                self._settings = key
            return dict(self._providers), dict(self._problems)

    def _close(self) -> None:
        for provider in self._providers.values():
            provider.close()

    def close(self) -> None:
        with self._lock:
            self._close()
            self._providers, self._settings = {}, None


def ask_vendors(store: Store, providers: dict[str, WarrantyProvider], problems: dict[str, WarrantySetupError],
                due: Iterable[DueSerial], now: datetime, cache_days: int) -> RefreshReport:
    """Ask each vendor about its ``due`` serials in batches; record answers and failures."""
    report = RefreshReport()
    by_vendor: dict[str, list[DueSerial]] = {}
    for item in due:
        by_vendor.setdefault(item.vendor, []).append(item)
    for vendor, items in sorted(by_vendor.items()):
        if vendor in problems:
            record_failure(store, items, problems[vendor], now)
            report.merge_failure(vendor, problems[vendor])
            continue
        provider = providers.get(vendor)
        if provider is None:
            continue
        report.asked[vendor] = len(items)
        batches = chunks([item.serial for item in items], provider.batch_size)
        index = {item.serial: item for item in items}
        for number, batch in enumerate(batches):
            try:
                results = provider.lookup(batch)
            except FleetwardError as error:
                stop = getattr(error, "kind", "") in ("auth", "throttled", "setup")
                failed = batch if not stop else [s for rest in batches[number:] for s in rest]
                record_failure(store, [index[s] for s in failed], error, now)
                report.merge_failure(vendor, error)
                log.warning("warranty lookup for %d serials failed: %s", len(failed), error)
                if stop:
                    break
                continue
            results = {serial: result for serial, result in results.items() if serial in index}
            record_results(store, index, results, now, cache_days)
            report.found += sum(1 for r in results.values() if r.found)
            report.not_found += sum(1 for r in results.values() if not r.found)
    return report


def lookup_now(store: Store, settings: WarrantySettings, serials: Iterable[str], *, sealed: SealedSecrets,
               now: datetime, transport: httpx.BaseTransport | None = None,
               providers: ProviderSet | None = None) -> RefreshReport:
    """Ask the vendors about ``serials`` now, fresh or not, and store the answers.

    Serials must be in the hardware inventory (that is where their vendor comes from);
    others are ignored. A serial with a manual record keeps it, and only learns the answer.
    """
    own = providers is None
    provider_set = providers or ProviderSet(sealed, transport=transport)
    try:
        current, problems = provider_set.current(settings)
        return ask_vendors(store, current, problems, inventory_serials(store, serials), now, settings.cache_days)
    finally:
        if own:
            provider_set.close()


class WarrantyRefresher:
    """Refreshes warranties every ``interval`` seconds beside the reconcile loop (see the module doc)."""

    def __init__(self, store: Store, sealed: SealedSecrets, clock: Callable[[], datetime],
                 desired: Callable[[], DesiredState | None], *, interval: float = DEFAULT_INTERVAL,
                 transport: httpx.BaseTransport | None = None, builder: ProviderBuilder = build_provider) -> None:
        self.store = store
        self.sealed = sealed
        self.clock = clock
        self.desired = desired
        self.interval = interval
        self.providers = ProviderSet(sealed, transport=transport, builder=builder)
        self._pass_lock = threading.Lock()
        self._manual_revision: str | None = None
        self.passes = 0
        self.last_report: RefreshReport | None = None

    def settings(self) -> WarrantySettings:
        applied = self.desired()
        return applied.fleet.warranty if applied is not None else WarrantySettings()

    def refresh(self) -> RefreshReport:
        """One full pass: manual records, due serials, alerts. Nothing before a revision is applied:
        the cache and the alerts then stay as the last applied revision left them."""
        if self.desired() is None:
            return RefreshReport()
        with self._pass_lock:
            now = self.clock()
            settings = self.settings()
            manual = self._apply_manual(now, settings.cache_days, force=True)
            current, problems = self.providers.current(settings)
            vendors = set(current) | set(problems)
            report = ask_vendors(self.store, current, problems, due_serials(self.store, now, vendors), now,
                                 settings.cache_days)
            report.manual_changes = manual
            report.open_alerts = len(refresh_alerts(self.store, now))
            self.passes += 1
            self.last_report = report
            if report.asked or report.failed or manual:
                log.info("warranty refresh: asked %s, %d found, %d unknown, failed %s, %d manual changes",
                         report.asked, report.found, report.not_found, sorted(report.failed), manual)
            return report

    def lookup_now(self, serials: Iterable[str]) -> RefreshReport:
        """Ask the vendors about ``serials`` now (the API's ``?refresh=true``), then update alerts."""
        with self._pass_lock:
            now = self.clock()
            settings = self.settings()
            report = lookup_now(self.store, settings, serials, sealed=self.sealed, now=now,
                                providers=self.providers)
            report.open_alerts = len(refresh_alerts(self.store, now))
            return report

    def sync_manual(self) -> int:
        """Apply the Warranty records of a newly applied revision (cheap when nothing changed)."""
        with self._pass_lock:
            now = self.clock()
            changed = self._apply_manual(now, self.settings().cache_days, force=False)
            if changed:
                refresh_alerts(self.store, now)
            return changed

    def _apply_manual(self, now: datetime, cache_days: int, *, force: bool) -> int:
        applied = self.desired()
        if applied is None:  # not known yet (a controller starting): keep what the last revision said
            return 0
        if not force and applied.revision == self._manual_revision:
            return 0
        changed = apply_manual_records(self.store, applied, now, cache_days)
        self._manual_revision = applied.revision
        return changed

    def close(self) -> None:
        self.providers.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every ``interval`` seconds until ``stop``; new revisions' records show within seconds."""
        next_pass = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                try:
                    if loop.time() >= next_pass and self.desired() is not None:
                        next_pass = loop.time() + self.interval
                        await asyncio.to_thread(self.refresh)
                    else:
                        await asyncio.to_thread(self.sync_manual)
                except Exception:  # a vendor or the store failing must not end the loop
                    log.exception("warranty refresh failed; trying again in %.0f s", REVISION_CHECK_INTERVAL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=min(REVISION_CHECK_INTERVAL,
                                                                     max(0.0, next_pass - loop.time())))
        finally:
            self.close()
