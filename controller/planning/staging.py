"""Hold the planner's jobs to their rollout wave and maintenance window; plan rollbacks.

The deciding step says what each device needs regardless of rollouts; this step, still pure,
narrows it: jobs only for devices in the waves started so far, none for a halted rollout,
each carrying the bounds of its device's maintenance window (and none when that window is more
than :data:`~controller.planning.windows.PRESTAGE_HORIZON` away). A rolled-back deployment's
forward jobs are replaced by jobs returning every device it touched to its prior version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from controller.desired import DesiredState, Loaded
from controller.observed import ObservedAgent, ObservedState, PriorVersion, RolloutState
from controller.planning.deciding import Decision, Desire
from controller.planning.plans import Cancellation, DeviceOutcome, JobIntent, OutcomeState
from controller.planning.retrying import RetryPolicy
from controller.planning.rollouts import (
    HASH_SPACE,
    OFFLINE_AFTER,
    DeviceResult,
    DeviceStanding,
    RolloutReport,
    device_hash,
    evaluate,
    spec_digest,
)
from controller.planning.windows import PRESTAGE_HORIZON, Slot, describe, slot_for
from schemas.clients import Client
from schemas.deployments import Deployment
from schemas.ids import AgentId
from schemas.jobs import JobAction
from schemas.rollouts import Window

_RESULTS: Mapping[str, DeviceResult] = {
    "converged": "success", "failed": "failure", "pending": "open", "running": "open", "suspended": "open",
    "waiting": "open", "scheduled": "open", "halted": "open", "retry-later": "open",
}


@dataclass(frozen=True)
class Staged:
    deployment: Loaded[Deployment]
    desire: Desire


@dataclass
class Staging:
    reports: list[RolloutReport]
    needs_full: bool = False


def stage(desired: DesiredState, observed: ObservedState, staged: Sequence[Staged], decision: Decision,
          by_id: Mapping[AgentId, ObservedAgent], now: datetime, retry: RetryPolicy, *, full: bool) -> Staging:
    """Narrow ``decision`` in place to what the rollouts and windows allow; returns the rollouts."""
    result = Staging(reports=[])
    by_deployment: dict[str, list[int]] = {}
    for index, outcome in enumerate(decision.outcomes):
        by_deployment.setdefault(outcome.deployment, []).append(index)
    jobs_by_key = {(job.deployment, job.agent_id): job for job in decision.jobs}
    kept: dict[tuple[str, str], JobIntent] = {}
    windows = _Windows(desired, now)
    outcomes = decision.outcomes
    for item in staged:
        ref = item.deployment.ref
        spec = item.deployment.resource.spec
        mine = by_deployment.get(ref, [])
        digest = spec_digest(spec.model_dump(mode="json"), item.desire.package.spec.model_dump(mode="json"))
        previous = observed.rollouts.get(ref)
        if previous is not None and previous.digest == digest and previous.rolled_back:
            _roll_back(item, observed.rollback.get(ref, {}), mine, decision, by_id, now, retry, kept)
            result.reports.append(RolloutReport(ref, previous))
            continue
        state: RolloutState | None
        if full:
            standings = [_standing(outcomes[index], by_id[outcomes[index].agent_id], now) for index in mine]
            report = evaluate(ref, spec.rollout, previous, digest, standings, now)
            result.reports.append(report)
            state = report.state
        else:
            state = previous if previous is not None and previous.digest == digest else None
            if state is None and len(spec.rollout.waves) == 1:  # one wave: every device is in it
                state = RolloutState(digest, 0, (now,), cutoffs=(HASH_SPACE,))
            if state is None or (not state.completed and not state.halted and any(
                    outcomes[index].state in ("converged", "failed") for index in mine)):
                result.needs_full = True
        for index in mine:
            outcome = outcomes[index]
            hashed = device_hash(ref, outcome.agent_id)
            wave = state.wave_of(hashed) if state is not None else None
            job = jobs_by_key.get((ref, outcome.agent_id))
            new_state: OutcomeState | None = None
            reason = outcome.reason
            if job is not None:
                if state is None:
                    new_state, reason = "waiting", "the rollout starts at the next full reconcile"
                elif state.halted:
                    new_state, reason = "halted", f"rollout halted: {state.reason}"
                elif not state.allows(hashed):
                    new_state, reason = "waiting", f"in wave {(wave or 0) + 1}; wave {state.wave + 1} is active"
                elif not full and state.wave < len(spec.rollout.waves) - 1:
                    # The stored cut-offs are from the last full pass; devices that joined since could
                    # fall below them. Before the last wave, only a full pass (over every target) issues.
                    new_state, reason = "waiting", "the next full reconcile issues this wave's jobs"
                    result.needs_full = True
                else:
                    windowed, slot = windows.slot(desired.window(spec.window, item.deployment.scope),
                                                  by_id[outcome.agent_id].client)
                    if not windowed:
                        kept[(ref, outcome.agent_id)] = job
                    elif slot is None or slot.not_before - now > PRESTAGE_HORIZON:
                        new_state, reason = "scheduled", describe(slot)
                    else:
                        kept[(ref, outcome.agent_id)] = replace(job, not_before=slot.not_before,
                                                                not_after=slot.not_after)
                        if not slot.is_open(now):
                            reason = f"{reason}; installs in the window opening " \
                                     f"{slot.not_before.isoformat(timespec='minutes')}"
            outcomes[index] = outcome._replace(wave=None if wave is None else wave + 1,
                                               state=new_state or outcome.state, reason=reason)
    staged_refs = {item.deployment.ref for item in staged}
    decision.jobs[:] = [job for job in decision.jobs if job.deployment not in staged_refs] + list(kept.values())
    return result


def _standing(outcome: DeviceOutcome, agent: ObservedAgent, now: datetime) -> DeviceStanding:
    result = _RESULTS.get(outcome.state, "excluded")
    if result == "open" and outcome.action is not None:
        # A device retrying after a failure still counts as failed until an attempt succeeds; one whose
        # installer last said "retry later" is in progress.
        failure = agent.failures.get((outcome.package, outcome.version, outcome.action))
        if failure is not None and failure.failures > 0 and failure.retry_at is None:
            result = "failure"
    offline = agent.last_seen is not None and now - agent.last_seen > OFFLINE_AFTER
    return DeviceStanding(outcome.agent_id, result, offline)


class _Windows:
    """Each (window, zone) pair's slot, computed once per plan."""

    def __init__(self, desired: DesiredState, now: datetime) -> None:
        self._now = now
        self._clients = {loaded.name: loaded.resource.spec for loaded in desired.of_kind(Client).values()}
        self._defaults = {name: desired.window(spec.deployment_window, name) for name, spec in self._clients.items()}
        self._slots: dict[tuple[Window, str], Slot | None] = {}

    def slot(self, window: Window | None, client: str) -> tuple[bool, Slot | None]:
        """(whether a window applies, its slot) for a device of ``client``; no window: install any time.
        ``window`` is the deployment's own, its name already resolved."""
        client_spec = self._clients.get(client)
        window = window or self._defaults.get(client)
        if window is None:
            return False, None
        zone = client_spec.timezone if client_spec else "UTC"
        key = (window, zone)
        if key not in self._slots:
            self._slots[key] = slot_for(window, zone, self._now)
        return True, self._slots[key]


def _roll_back(item: Staged, touched: Mapping[AgentId, PriorVersion], mine: Sequence[int], decision: Decision,
               by_id: Mapping[AgentId, ObservedAgent], now: datetime, retry: RetryPolicy,
               kept: dict[tuple[str, str], JobIntent]) -> None:
    """Jobs returning every touched device to its prior version; nothing new for the others."""
    ref = item.deployment.ref
    name = item.desire.package.metadata.name
    rollback_jobs: set[str] = set()
    for index in mine:
        outcome = decision.outcomes[index]
        agent = by_id[outcome.agent_id]
        prior = touched.get(outcome.agent_id)
        if prior is None:
            decision.outcomes[index] = outcome._replace(
                state="halted", reason="rolled back; this device was not touched", action=None)
            continue
        state, reason, action, job = _rollback_one(agent, item.desire, prior, now, retry)
        rollback_jobs.update(open_job.job_id for open_job in agent.open_jobs
                             if open_job.package == name and open_job.version == (prior.version or ""))
        if job is not None:
            kept[(ref, agent.agent_id)] = job
        decision.outcomes[index] = outcome._replace(state=state, reason=reason, action=action)
        for open_job in agent.open_jobs:  # forward jobs not yet leased go
            if open_job.package == name and open_job.state == "queued" and open_job.job_id not in rollback_jobs \
                    and open_job.action != "uninstall":
                decision.cancellations.append(Cancellation(open_job.job_id, agent.agent_id, "rolled back"))
    decision.cancellations[:] = [cancel for cancel in decision.cancellations if cancel.job_id not in rollback_jobs]


def _rollback_one(agent: ObservedAgent, desire: Desire, prior: PriorVersion, now: datetime, retry: RetryPolicy,
                  ) -> tuple[OutcomeState, str, JobAction | None, JobIntent | None]:
    name = desire.package.metadata.name
    installed = agent.managed.get(name)
    target = prior.version
    if installed == target:
        return "rolled-back", f"back at {target}" if target else "uninstalled again", None, None
    action: JobAction = "uninstall" if target is None else ("install" if installed is None else "upgrade")
    version = installed if target is None else target
    assert version is not None
    for open_job in agent.open_jobs:
        if open_job.package == name and open_job.version == version and open_job.action == action:
            return "running" if open_job.state != "queued" else "pending", \
                f"rollback job {open_job.job_id} {open_job.state}", action, None
    installer = prior.installer if target is not None else desire.package.spec.installer_for(
        agent.labels.get("os", ""), agent.labels.get("arch"))
    if installer is None:
        return "failed", f"cannot roll back to {target}: no record of its installer is left", action, None
    failure = agent.failures.get((name, version, action))
    held = retry.hold(failure, now)
    if held is not None:
        state, why = held
        if failure is not None and state == "failed" and failure.retry_at is None:
            why = f"rollback attempt {failure.failures} failed: {failure.reason}"
        return state, why, action, None
    job = JobIntent(agent_id=agent.agent_id, client=agent.client, deployment=desire.deployment, action=action,
                    package=name, version=version, installer=installer, previous_version=installed)
    return "pending", f"rolling back to {target}" if target else "rolling back: uninstalling", action, job
