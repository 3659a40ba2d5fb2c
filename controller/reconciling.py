"""The control loop: fetch the repository, apply valid revisions, plan, issue jobs.

Level-triggered. Events (a new commit, an agent's inventory or job result, a
webhook, a timer) only say *when* to reconcile and *which agents* are dirty; each
pass reads the state it needs and computes what is missing, so a pass that finds
nothing to do writes nothing. A revision that fails validation is recorded as
rejected and the last good one stays applied, across restarts too: on start the
applied revision is re-read from git objects by its sha.

Blocking work (git, SQL) runs in worker threads; the loop itself is asyncio so the
API's long-polling lease requests can wait on :meth:`Reconciler.wait_for_jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.desired import DesiredState
from controller.errors import FleetwardError, RevisionInvalid, SourceUnavailable
from controller.gitsource import Backoff, RepoMirror, verify_commit
from controller.licensing import refresh_licences
from controller.loading import GitTreeSource, ParseCache, load_revision
from controller.loading.problems import problem
from controller.planning import DEFAULT_RETRY, Plan, RetryPolicy, plan
from controller.planning.changes import resource_changes, touched_clients
from controller.policies.assigning import refresh_assignments
from controller.policies.bundling import PolicyBundles
from controller.proposing import Proposals
from controller.secrets import SealedSecrets, require_openable
from controller.settings import ControllerSettings
from controller.store import (
    ProposalPlanRow,
    Store,
    agent_ids_of_clients,
    clear_alerts_except,
    expire_jobs,
    issue_jobs,
    last_applied,
    raise_alert,
    read_observed,
    record_applied,
    record_rejected,
    requeue_stale_leases,
    write_outcomes,
    write_rollouts,
)
from schemas.ids import AgentId

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL = 15.0
LICENCE_INTERVAL = 300.0
"""Licence compliance is recomputed this often (and after every applied revision)."""
ERROR_PAUSE = 2.0
ROLLOUT_HALTED = "controller.rollout-halted"


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around an allocation-heavy, cycle-free step.

    A full plan allocates hundreds of thousands of small objects and no reference cycles;
    the collector's generational passes over them cost about a third of the planning time.
    Reference counting still frees everything; the collector runs again right after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class SourceHealth:
    """What the last fetch said; shown in /api/revisions and the status branch."""

    ok: bool
    error: str = ""
    since: datetime | None = None
    head: str | None = None


@dataclass(frozen=True)
class PassResult:
    planned_agents: int
    jobs: int
    cancellations: int


class Reconciler:
    def __init__(
        self,
        settings: ControllerSettings,
        store: Store,
        mirror: RepoMirror,
        clock: Callable[[], datetime],
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        backoff: Backoff | None = None,
        sealed: SealedSecrets | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.mirror = mirror
        self.clock = clock
        self.retry = retry
        self.backoff = backoff or Backoff(initial=2.0, maximum=300.0)
        self.applied: DesiredState | None = None
        self.applied_author = ""
        """Who committed the applied revision: the actor of the rollouts it starts."""
        self.source = SourceHealth(ok=True)
        self._last_head: str | None = None
        self._guard = threading.Lock()
        self._dirty: set[str] = set()
        self._full = True
        self._fetch_requested = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._job_waiters: dict[str, asyncio.Event] = {}
        self._proposals_wanted = asyncio.Event()
        self.job_listeners: list[Callable[[set[str]], None]] = []
        """Called (from a worker thread) with the agents whose jobs changed in a pass."""
        self.passes = 0
        self._licences_due = True
        self._licences_at = 0.0
        self.fetches = 0
        self.branches: dict[str, str] = {}
        self.parse_cache = ParseCache()
        self.sealed = sealed
        self.proposals = Proposals(settings, store, mirror, clock, self.parse_cache, sealed=sealed)
        self._replan_proposals = False
        self._check_merged: tuple[str, ProposalPlanRow] | None = None
        self.policy_bundles = PolicyBundles()
        """Every policy's bundle entry per applied revision; shared with the agent API."""

    # -- notifications (thread-safe; called by the API and the watcher) --------------

    def agent_changed(self, agent_id: str) -> None:
        with self._guard:
            self._dirty.add(agent_id)
        self._poke()

    def request_fetch(self) -> None:
        self._fetch_requested = True
        self._poke()

    def request_full(self) -> None:
        self._full = True
        self._poke()

    async def wait_for_jobs(self, agent_id: str, timeout: float) -> None:
        event = self._job_waiters.setdefault(agent_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout=timeout)
        except TimeoutError:
            pass
        finally:
            if self._job_waiters.get(agent_id) is event and not event.is_set():
                self._job_waiters.pop(agent_id, None)

    def _poke(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _jobs_issued(self, agent_ids: set[str]) -> None:
        if self._loop is None:
            return

        def release() -> None:
            for agent_id in agent_ids:
                event = self._job_waiters.pop(agent_id, None)
                if event is not None:
                    event.set()

        self._loop.call_soon_threadsafe(release)

    # -- the blocking steps ----------------------------------------------------------

    def restore(self) -> None:
        """Re-read the last applied revision from git objects, so a restart keeps it in force."""
        self.mirror.ensure()
        row = last_applied(self.store)
        if row is None:
            return
        try:
            self.applied = self.load(row.sha)
            self.applied_author = row.author
            self._last_head = row.sha
        except (RevisionInvalid, FleetwardError) as error:
            log.warning("could not restore applied revision %s: %s", row.sha[:12], error)

    def sync_revision(self) -> bool:
        """Fetch; apply the branch head if it is new and valid. True when a new revision applied."""
        now = self.clock()
        self.fetches += 1
        try:
            heads = self.mirror.fetch()
        except SourceUnavailable as error:
            since = self.source.since if not self.source.ok else now
            self.source = SourceHealth(ok=False, error=error.message, since=since, head=self._last_head)
            log.warning("fetch failed (the last good revision stays applied): %s", error.message)
            raise
        head = heads.get(self.settings.branch)
        if head is None:
            self.source = SourceHealth(ok=False, since=now, head=None,
                                       error=f"branch {self.settings.branch!r} not found in the repository")
            return False
        self.source = SourceHealth(ok=True, head=head)
        self.branches = heads
        if head == self._last_head:
            return False
        self._last_head = head
        info = self.mirror.commit_info(head)
        try:
            desired = self.load(head)
            self.check_signature(head, desired)
        except RevisionInvalid as invalid:
            problems = [str(problem) for problem in invalid.problems]
            record_rejected(self.store, head, self.settings.branch, info, problems, now)
            log.warning("revision %s rejected with %d problems; %s stays applied", head[:12],
                        len(problems), self.applied.revision[:12] if self.applied else "nothing")
            return False
        record_applied(self.store, head, self.settings.branch, info, desired, now)
        previous, self.applied = self.applied, desired
        self.applied_author = f"{info.author_name} <{info.author_email}>" if info.author_email else info.author_name
        self._licences_due = True
        published = self.proposals.published_for(head)
        self._check_merged = (head, published) if published is not None else None
        clients = touched_clients(resource_changes(previous, desired)) if previous is not None else None
        if clients is None:
            self._full = True
        else:  # only client-scoped resources changed: only those clients' devices can be affected
            with self._guard:
                self._dirty |= agent_ids_of_clients(self.store, clients)
            self._poke()
        log.info("applied revision %s: %s", head[:12], info.summary)
        return True

    def load(self, sha: str) -> DesiredState:
        """Load and validate ``sha``; every sealed value must open with this controller's keys."""
        desired = load_revision(GitTreeSource(self.mirror.path, sha, self.settings.path), self.parse_cache)
        if self.sealed is not None:
            desired = require_openable(desired, self.sealed)
        return desired

    def check_signature(self, sha: str, desired: DesiredState) -> None:
        """Refuse ``sha`` unless an allowed signer signed it, when signatures are required.

        The rule and the signers come from the applied revision, not from the commit being
        checked, so a change of allowedSigners must itself be signed by a current signer. Only
        before anything was applied does a revision's own fleet.yaml decide (trust on first use).
        """
        fleet = (self.applied or desired).fleet
        if not fleet.require_signed_commits:
            return
        verdict = verify_commit(self.mirror, sha, fleet.allowed_signers, gnupg_home=self.settings.gnupg_home)
        if not verdict.ok:
            raise RevisionInvalid(sha, [problem("fleet.yaml", 1, 1,
                                                f"commit {sha[:12]} is not applied: {verdict.reason} "
                                                "(requireSignedCommits is on)")])
        log.info("commit %s signed by %s", sha[:12], verdict.signer)

    def sync_proposals(self) -> None:
        """Plan new or moved proposal heads (never fatal to the apply loop)."""
        force, self._replan_proposals = self._replan_proposals, False
        try:
            self.proposals.sync(self.applied, self.branches, force=force)
        except FleetwardError as error:
            log.warning("planning proposals failed, retrying at the next fetch: %s", error)

    def reconcile(self, agents: set[str] | None) -> PassResult:
        """Plan for ``agents`` (None: every agent) and write jobs and outcomes."""
        desired = self.applied
        if desired is None:
            return PassResult(0, 0, 0)
        now = self.clock()
        observed = read_observed(self.store, agent_ids=agents, now=now)
        only = {AgentId(agent_id) for agent_id in agents} if agents is not None else None
        with gc_paused():
            result = plan(desired, observed, now, retry=self.retry, only_agents=only)
        if result.jobs or result.cancellations:
            issue_jobs(self.store, result, desired.revision, now,
                       job_ttl=timedelta(seconds=self.settings.job_ttl))
            touched: set[str] = {j.agent_id for j in result.jobs} | {c.agent_id for c in result.cancellations}
            for listener in self.job_listeners:
                listener(touched)
            self._jobs_issued({job.agent_id for job in result.jobs})
        write_outcomes(self.store, result.outcomes, agents, now)
        refresh_assignments(self.store, desired, observed, self.policy_bundles, agents)
        if result.rollouts:
            self.record_rollouts(result, desired, now)
        if result.needs_full:
            self._full = True  # a result may move a rollout: evaluate it over every device next
        if self._check_merged is not None:
            (merged, published), self._check_merged = self._check_merged, None
            hostnames: dict[str, str] = {a_id: agent.hostname for a_id, agent in observed.agents.items()}
            self.proposals.note_if_merged(merged, published, result, hostnames, covered=agents)
        self.passes += 1
        return PassResult(len(observed.agents), len(result.jobs), len(result.cancellations))

    def record_rollouts(self, result: Plan, desired: DesiredState, now: datetime) -> None:
        """Store each rollout's state and transitions; a rollout that halted itself raises an alert,
        which clears once git starts a new rollout of that deployment (or removes it)."""
        for report in write_rollouts(self.store, result.rollouts, desired, self.applied_author, now):
            client = report.deployment.rpartition(".")[0] or "msp"
            raise_alert(self.store, client=client, agent_id=None, type=ROLLOUT_HALTED, severity="critical",
                        key=_halt_key(report.deployment, report.state.digest), now=now,
                        message=f"rollout of {report.deployment} halted in wave {report.state.wave + 1}: "
                                f"{report.state.reason}",
                        detail={"deployment": report.deployment, "wave": report.state.wave + 1,
                                "reason": report.state.reason})
            log.warning("rollout of %s halted: %s", report.deployment, report.state.reason)
        if result.covers_everything:
            halted = {_halt_key(report.deployment, report.state.digest) for report in result.rollouts
                      if report.state.halted}
            clear_alerts_except(self.store, "rollout:", halted, now)

    def maintain(self) -> None:
        now = self.clock()
        if self._licences_due or time.monotonic() >= self._licences_at:
            self._licences_due = False
            refresh_licences(self.store, self.applied, now)
            self._licences_at = time.monotonic() + LICENCE_INTERVAL
        requeued = requeue_stale_leases(self.store, now, self.settings.max_deliveries)
        expired = expire_jobs(self.store, now)
        if requeued or expired:
            self._full = True

    # -- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._proposals_wanted = asyncio.Event()
        await asyncio.to_thread(self.restore)
        proposals = asyncio.create_task(self._plan_proposals(stop), name="proposals")
        try:
            await self._reconcile_loop(stop)
        finally:
            self._proposals_wanted.set()
            await proposals

    async def _plan_proposals(self, stop: asyncio.Event) -> None:
        """Plan proposals after each fetch, in their own thread: a large review never delays jobs."""
        while not stop.is_set():
            await self._proposals_wanted.wait()
            self._proposals_wanted.clear()
            if stop.is_set():
                return
            try:
                await asyncio.to_thread(self.sync_proposals)
            except Exception:
                log.exception("planning proposals crashed; retrying after the next fetch")

    async def _reconcile_loop(self, stop: asyncio.Event) -> None:
        next_fetch = next_full = next_maintenance = 0.0
        while not stop.is_set():
            try:
                now = time.monotonic()
                fetched = False
                if self._fetch_requested or now >= next_fetch:
                    self._fetch_requested = False
                    try:
                        await asyncio.to_thread(self.sync_revision)
                        fetched = True
                        self.backoff.reset()
                        next_fetch = time.monotonic() + self.settings.fetch_interval
                    except SourceUnavailable:
                        next_fetch = time.monotonic() + self.backoff.next_delay()
                if now >= next_maintenance or self._licences_due:
                    await asyncio.to_thread(self.maintain)
                    next_maintenance = time.monotonic() + MAINTENANCE_INTERVAL
                with self._guard:
                    dirty, self._dirty = self._dirty, set()
                if self._full or now >= next_full:
                    self._full = False
                    self._replan_proposals = True  # the observed state moves, so do their plans
                    await asyncio.to_thread(self.reconcile, None)
                    next_full = time.monotonic() + self.settings.full_reconcile_interval
                elif dirty or self._check_merged is not None:
                    await asyncio.to_thread(self.reconcile, dirty)
                if fetched:  # planned beside this loop: the applied branch never waits for proposals
                    self._proposals_wanted.set()
            except FleetwardError as error:
                log.warning("reconcile pass failed, retrying: %s", error)
                self._full = True
                await _sleep_or_stop(stop, ERROR_PAUSE)
                continue
            except Exception:
                log.exception("reconcile pass crashed, retrying")
                self._full = True
                await _sleep_or_stop(stop, ERROR_PAUSE)
                continue
            deadline = min(next_fetch, next_full, next_maintenance)
            await self._wait(stop, max(0.0, deadline - time.monotonic()))

    async def _wait(self, stop: asyncio.Event, timeout: float) -> None:
        assert self._wake is not None
        waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
        _done, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        self._wake.clear()


def _halt_key(deployment: str, digest: str) -> str:
    return f"rollout:{deployment}:{digest}"


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
