"""One full agent cycle against the controller, the unit both ``run`` modes repeat.

A cycle:

0. runs the monitors (:mod:`agent.monitoring`) with the held config and queues what
   they raise or clear, before any network call, so an unreachable controller
   loses nothing;
1. checks in with the highest finished seq (cheap: "anything new?"), and fetches
   the controller's config (``GET /config``) when the check-in names a version
   other than the one held in the data dir;
2. sends the queued alerts (at once, not with inventory; on failure they stay
   queued for the next cycle), then re-sends job results still in the outbox;
3. leases jobs (always in ``run --once``; in the service loop only when the
   check-in says jobs are pending) and hands each, in seq order, to the
   :class:`~agent.executing.JobRunner`; it keeps leasing while a lease came back
   full;
4. sends inventory when it is wanted: the controller asked, first contact, a
   job ran, the local rescan or the periodic full report is due, or (``network``
   only) the discovery settings just changed. Inventory goes after the jobs so
   the ``managed`` section already shows their effect. It is collected at low
   priority within a CPU budget (:mod:`agent.throttling`): a collection over
   budget makes the next one lean;
5. prunes the journal and saves the state.

Everything the cycle did is returned as a :class:`CycleReport` for the CLI to
print (text or JSON) and for tests to assert on. Transport errors propagate:
deciding to retry is the loop's job, not the cycle's. :func:`run_once` is the
entry point an integration test drives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from agent.connection import ControllerConnection
from agent.errors import ProtocolError, ServerBusy, TemporaryError
from agent.executing import JobResult, JobRunner
from agent.extracting import Caps
from agent.installing import build_packages
from agent.inventory import Collectors, collect_inventory, section_hash, software_delta
from agent.journal import Journal
from agent.monitoring.probes import Probes
from agent.monitoring.watching import Monitors
from agent.policies.bundles import BundleRefused, BundleStore, verify_bundle
from agent.policies.engine import Events, PolicyEngine
from agent.receipts import Receipts
from agent.settings import AgentSettings
from agent.state import AgentConfig, AgentState, DataDir
from agent.throttling import CpuBudget, CpuMeter, Effort, run_at_low_priority, thread_and_children_cpu
from agent.urls import check_server_url
from agent.verifying import TrustedKeys
from schemas.inventory import AgentConfig as ControllerConfig
from schemas.monitoring import MonitorSettings
from schemas.protocol import (
    CheckinRequest,
    CheckinResponse,
    InventoryReport,
    InventorySection,
    LeaseRequest,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_LEASE_ROUNDS = 10
MIN_INTERVAL_SECONDS = 5
MAX_INTERVAL_SECONDS = 24 * 3600


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CycleReport:
    agent_id: str
    client: str
    server: str
    checkin: CheckinResponse | None = None
    inventory_sent: list[InventorySection] = field(default_factory=list)
    inventory_accepted: list[InventorySection] = field(default_factory=list)
    inventory_full: bool = False
    jobs: list[JobResult] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    outbox: int = 0
    seen_seq: int = 0
    interval_seconds: int = 60
    stopped_early: bool = False
    config_version: str = ""
    config_fetched: bool = False
    inventory_failed: list[InventorySection] = field(default_factory=list)
    inventory_effort: Effort | None = None
    collection_cpu_seconds: float | None = None
    alerts_raised: list[str] = field(default_factory=list)
    """``state monitor subject`` of each alert raised or cleared this cycle."""
    alerts_sent: int = 0
    alerts_queued: int = 0
    policies_version: str = ""
    policies_fetched: bool = False
    policy_runs: list[str] = field(default_factory=list)
    """``policy status trigger`` of each policy run this cycle."""
    policy_results_sent: int = 0
    policy_results_queued: int = 0

    @property
    def jobs_executed(self) -> bool:
        return any(not job.resent and job.result not in ("refused", "waiting") for job in self.jobs)

    def as_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "client": self.client,
            "server": self.server,
            "checkin": None if self.checkin is None else {
                "jobs_pending": self.checkin.jobs_pending, "inventory": self.checkin.inventory,
            },
            "inventory": {"sent": self.inventory_sent, "accepted": self.inventory_accepted,
                          "full": self.inventory_full, "failed": self.inventory_failed,
                          "effort": self.inventory_effort, "cpu_seconds": self.collection_cpu_seconds},
            "config": {"version": self.config_version, "fetched": self.config_fetched},
            "jobs": [
                {"id": job.job_id, "action": job.action, "package": job.package, "version": job.version,
                 "result": job.result, "reason": job.reason, "message": job.message,
                 "resent": job.resent, "delivered": job.delivered}
                for job in self.jobs
            ],
            "resent": self.resent,
            "outbox": self.outbox,
            "seen_seq": self.seen_seq,
            "next_checkin_seconds": self.interval_seconds,
            "stopped_early": self.stopped_early,
            "alerts": {"changed": self.alerts_raised, "sent": self.alerts_sent, "queued": self.alerts_queued},
            "policies": {"version": self.policies_version, "fetched": self.policies_fetched, "runs": self.policy_runs,
                         "sent": self.policy_results_sent, "queued": self.policy_results_queued},
        }


class Cycle:
    """Everything one cycle needs, built from the settings and the stored identity."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        clock: Clock = utc_now,
        transport: httpx.BaseTransport | None = None,
        collectors: Collectors | None = None,
        cpu_meter: CpuMeter = thread_and_children_cpu,
        probes: Probes | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.collectors = collectors or Collectors.for_settings(settings)
        self.cpu_meter = cpu_meter
        self.budget = CpuBudget(settings.collection_cpu_budget_seconds)
        self.data_dir = DataDir(settings.data_dir)
        self.monitors = Monitors(settings.data_dir, probes=probes, clock=clock)
        self.policy_engine = PolicyEngine(settings.data_dir / "policies", clock=clock)
        self.policy_bundles = BundleStore(settings.data_dir / "policies")
        self._started = True
        """Until the first policy evaluation of this process: the agent (re)started."""
        self._alert_types: frozenset[str] = frozenset()
        """Types of the alerts the monitors raised this cycle, as the controller names them."""

    def run(self, *, always_lease: bool, wait_seconds: float = 0.0,
            should_stop: Callable[[], bool] = lambda: False) -> CycleReport:
        config = self.data_dir.load_config()
        # agent.json was checked at enrolment; checking again costs nothing and catches hand edits.
        check_server_url(config.server, allow_insecure_http=config.allow_insecure_http)
        self.data_dir.create()
        state = self.data_dir.load_state()
        interval = state.checkin_interval_seconds or config.checkin_interval_seconds
        report = CycleReport(agent_id=config.agent_id, client=config.client, server=config.server,
                             interval_seconds=interval)
        self._monitor(report)
        try:
            with ControllerConnection(
                config.server, credential=config.credential,
                timeout_seconds=self.settings.http_timeout_seconds,
                max_response_bytes=self.settings.max_response_bytes, transport=self.transport,
            ) as connection:
                self._steps(connection, config, state, report, always_lease, wait_seconds, should_stop)
        except TemporaryError:
            # The controller is away: policies still run on schedule; their results wait in the outbox.
            self._evaluate_policies(config, report)
            raise
        finally:
            # Whatever was learned before an error (accepted hashes, the interval) is kept.
            report.seen_seq = state.seen_seq
            self.data_dir.save_state(state)
        return report

    def _steps(self, connection: ControllerConnection, config: AgentConfig, state: AgentState,
               report: CycleReport, always_lease: bool, wait_seconds: float,
               should_stop: Callable[[], bool]) -> None:
        runner = self._runner(connection, config, state)
        checkin = connection.checkin(CheckinRequest(seen_seq=state.seen_seq))
        report.checkin = checkin
        report.interval_seconds = _clamp_interval(checkin.checkin_interval_seconds)
        state.checkin_interval_seconds = report.interval_seconds
        remote, discovery_changed = self._sync_config(connection, checkin, report)
        self._sync_policies(connection, checkin, config, report)
        self._send_alerts(connection, report)
        report.resent = runner.flush_outbox()
        if always_lease or checkin.jobs_pending:
            self._lease_and_run(connection, runner, report, wait_seconds, should_stop)
        if not report.stopped_early:
            self._inventory(connection, state, report, asked=checkin.inventory, remote=remote,
                            discovery_changed=discovery_changed)
        if not report.stopped_early:
            self._evaluate_policies(config, report)
        self._send_policy_results(connection, config, report)
        journal = Journal(self.data_dir.journal_dir)
        journal.prune(self.settings.journal_keep)
        report.outbox = len(journal.outbox())

    def _monitor(self, report: CycleReport) -> None:
        held = self.data_dir.load_controller_config()
        alerts = self.monitors.run(held.monitors if held is not None else MonitorSettings())
        report.alerts_raised = [f"{alert.state} {alert.monitor} {alert.subject}".rstrip() for alert in alerts]
        self._alert_types = frozenset(f"agent.{alert.monitor}" for alert in alerts if alert.state == "raised")

    def _send_alerts(self, connection: ControllerConnection, report: CycleReport) -> None:
        """Deliver queued alerts; what is not stored stays queued for the next cycle."""
        outbox = self.monitors.outbox
        try:
            report.alerts_sent = outbox.send(connection.send_alerts, report.agent_id)
        except (ProtocolError, ServerBusy) as exc:
            # A controller without /alerts, or a busy one, must not stop jobs.
            log.warning("alerts not delivered this cycle (%s); they stay queued", exc.message)
        finally:
            report.alerts_queued = len(outbox.pending())

    def _sync_config(self, connection: ControllerConnection, checkin: CheckinResponse,
                     report: CycleReport) -> tuple[ControllerConfig | None, bool]:
        """The controller config to use, fetched when the check-in names another version, and
        whether its discovery settings changed (then the network section is rescanned)."""
        held = self.data_dir.load_controller_config()
        wanted = checkin.config_version
        report.config_version = held.version if held is not None else ""
        if not wanted or (held is not None and held.version == wanted):
            return held, False
        try:
            fetched = connection.get_config()
        except ProtocolError as exc:
            # A controller without /config (or a broken answer) must not stop jobs; retried next check-in.
            log.warning("could not fetch the controller's config version %s (%s); keeping %s", wanted, exc.message,
                        f"version {held.version}" if held is not None else "the defaults")
            return held, False
        self.data_dir.save_controller_config(fetched)
        report.config_version, report.config_fetched = fetched.version, True
        log.info("controller config version %s fetched", fetched.version)
        return fetched, held is None or held.discovery != fetched.discovery

    def _sync_policies(self, connection: ControllerConnection, checkin: CheckinResponse, config: AgentConfig,
                       report: CycleReport) -> None:
        """Fetch and verify the policy bundle when the check-in names another version than the one held."""
        keys = TrustedKeys(config.signing_keys)
        held = self.policy_bundles.load(keys, config.agent_id)
        report.policies_version = held.version if held is not None else ""
        wanted = checkin.policies_version
        if wanted == report.policies_version:
            return
        try:
            signed = connection.get_policies()
            bundle = verify_bundle(signed, keys, config.agent_id)
        except (ProtocolError, BundleRefused) as exc:
            # Keep enforcing what is held; retried at the next check-in.
            log.warning("policy bundle %s not taken (%s); keeping %s", wanted or "(none)", exc.message,
                        f"version {report.policies_version}" if held is not None else "no policies")
            return
        self.policy_bundles.save(signed)
        report.policies_version, report.policies_fetched = bundle.version, True
        log.info("policy bundle version %s fetched: %d policies", bundle.version, len(bundle.policies))

    def _evaluate_policies(self, config: AgentConfig, report: CycleReport) -> None:
        bundle = self.policy_bundles.load(TrustedKeys(config.signing_keys), config.agent_id)
        if bundle is None:
            return
        events = Events(started=self._started, alerts=self._alert_types,
                        inventory_changed=bool(report.inventory_accepted), job_finished=report.jobs_executed)
        self._started = False
        for result in self.policy_engine.run(bundle, events):
            report.policy_runs.append(f"{result.policy_id} {result.status} {result.trigger}")

    def _send_policy_results(self, connection: ControllerConnection, config: AgentConfig,
                             report: CycleReport) -> None:
        """Deliver queued results; what is not stored stays queued for the next cycle."""
        outbox = self.policy_engine.outbox
        try:
            report.policy_results_sent = outbox.send(connection.send_policy_results, report.agent_id)
        except (ProtocolError, ServerBusy) as exc:
            if isinstance(exc, ProtocolError) and exc.status == 403:
                # Results of policies no longer assigned are refused for good; the others go next cycle.
                bundle = self.policy_bundles.load(TrustedKeys(config.signing_keys), config.agent_id)
                dropped = outbox.drop_policies_except({p.id for p in bundle.policies} if bundle else set())
                log.warning("the controller refused policy results (%s); dropped %d of unassigned policies",
                            exc.message, dropped)
            else:
                log.warning("policy results not delivered this cycle (%s); they stay queued", exc.message)
        finally:
            report.policy_results_queued = len(outbox.pending())

    def _runner(self, connection: ControllerConnection, config: AgentConfig, state: AgentState) -> JobRunner:
        packages = build_packages(
            self.data_dir, clock=self.clock, software=lambda: self.collectors.software("full"),
            caps=Caps(self.settings.max_archive_members, self.settings.max_extracted_bytes),
            allow_insecure_http=config.allow_insecure_http,
            max_artifact_bytes=self.settings.max_artifact_bytes,
            download_timeout_seconds=self.settings.download_timeout_seconds,
        )
        return JobRunner(events=connection, data_dir=self.data_dir, state=state,
                         agent_id=config.agent_id, keys=TrustedKeys(config.signing_keys),
                         packages=packages, clock=self.clock)

    def _lease_and_run(self, connection: ControllerConnection, runner: JobRunner, report: CycleReport,
                       wait_seconds: float, should_stop: Callable[[], bool]) -> None:
        max_jobs = self.settings.max_jobs_per_lease
        wait = wait_seconds
        for _round in range(MAX_LEASE_ROUNDS):
            lease = connection.lease(LeaseRequest(wait_seconds=wait, max_jobs=max_jobs))
            wait = 0.0  # only the first lease long-polls
            for job in sorted(lease.jobs, key=lambda job: job.seq):
                if should_stop():
                    # Unstarted jobs stay leased; the controller offers them again after the lease ends.
                    report.stopped_early = True
                    return
                report.jobs.append(runner.handle(job))
            if len(lease.jobs) < max_jobs:
                return

    def _inventory(self, connection: ControllerConnection, state: AgentState, report: CycleReport,
                   *, asked: str, remote: ControllerConfig | None, discovery_changed: bool) -> None:
        now = self.clock()
        first = state.last_full_inventory is None or not state.inventory_hashes
        full_every = (remote.inventory.full_every_hours * 3600.0 if remote is not None
                      else self.settings.full_inventory_seconds)
        full = asked == "full" or first or _due(state.last_full_inventory, now, full_every)
        rescan = _due(state.last_inventory_scan, now, self.settings.inventory_rescan_seconds)
        everything = full or asked == "changed" or rescan or report.jobs_executed
        if not (everything or discovery_changed):
            return
        effort = self.budget.effort_after(state.last_collection_cpu_seconds)
        receipts = Receipts(self.data_dir.receipts_dir)
        discovery = remote.discovery if remote is not None else None
        only: tuple[InventorySection, ...] | None = None if everything else ("network",)
        inventory, used = run_at_low_priority(
            lambda: collect_inventory(receipts, self.collectors, discovery=discovery, effort=effort,
                                      only=only, meter=self.cpu_meter),
            meter=self.cpu_meter)
        state.last_collection_cpu_seconds = used
        self.budget.check(used)
        report.inventory_effort, report.collection_cpu_seconds = effort, round(used, 3)
        report.inventory_failed = list(inventory.failed)
        if everything:
            state.last_inventory_scan = now
        hashes = inventory.hashes()
        body = inventory.report(state.inventory_hashes, full=full)
        if body is not None and body.software is not None and not full:
            body = self._as_delta(body, state)
        if body is None and asked != "changed":
            return
        if body is None:
            # The controller asked; an empty report tells it nothing changed since the accepted hashes.
            body = InventoryReport(full=False)
        body = body.model_copy(update={"agent_id": report.agent_id})
        report.inventory_sent = sorted(body.hashes)
        report.inventory_full = full
        ack = connection.send_inventory(body)
        report.inventory_accepted = sorted(set(ack.accepted) & set(body.hashes))
        for section in report.inventory_accepted:
            state.inventory_hashes[section] = hashes[section]
        if "software" in report.inventory_accepted and inventory.software is not None:
            self.data_dir.save_accepted_software(inventory.software)
        if full and not inventory.failed and set(report.inventory_accepted) == set(body.hashes):
            state.last_full_inventory = now


    def _as_delta(self, body: InventoryReport, state: AgentState) -> InventoryReport:
        """``body`` with its software section sent as changes to the accepted one, when the agent
        still holds exactly the section the controller accepted (else unchanged)."""
        base = state.inventory_hashes.get("software")
        accepted = self.data_dir.load_accepted_software() if base else None
        if base is None or accepted is None or body.software is None:
            return body
        if section_hash([item.model_dump(mode="json") for item in accepted]) != base:
            return body
        delta = software_delta(accepted, body.software, base)
        if delta is None:
            return body
        return body.model_copy(update={"software": None, "software_delta": delta})


def _due(last: datetime | None, now: datetime, every_seconds: float) -> bool:
    return last is None or now - last >= timedelta(seconds=every_seconds)


def _clamp_interval(seconds: int) -> int:
    return max(MIN_INTERVAL_SECONDS, min(MAX_INTERVAL_SECONDS, seconds))


def run_once(settings: AgentSettings, *, clock: Clock = utc_now, transport: httpx.BaseTransport | None = None,
             collectors: Collectors | None = None, cpu_meter: CpuMeter = thread_and_children_cpu,
             probes: Probes | None = None) -> CycleReport:
    """``fleetward-agent run --once`` without the CLI: lock, one cycle with a plain lease, report."""
    data_dir = DataDir(settings.data_dir)
    with data_dir.locked():
        return Cycle(settings, clock=clock, transport=transport, collectors=collectors,
                     cpu_meter=cpu_meter, probes=probes).run(always_lease=True)
