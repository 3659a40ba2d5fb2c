"""What the planner decides: jobs to issue, jobs to cancel, and each device's standing.

A :class:`Plan` is inert data. The job writer turns intents into signed jobs in SQL,
the status writer renders outcomes, ``fleetward plan`` prints them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from controller.planning.rollouts import RolloutReport
from schemas.ids import AgentId, JobId
from schemas.jobs import JobAction
from schemas.packages import Installer

OutcomeState = Literal[
    "converged",  # the device is as the deployment wants it
    "pending",  # a job is issued (queued) or issued by this plan
    "running",  # the agent leased the job and is working on it
    "failed",  # the last attempt failed; a retry waits for its backoff or gave up
    "retry-later",  # the installer said "not now" (not a failure); the job is issued again after its delay
    "not-applicable",  # the package has no installer for this device's os/arch
    "conflict",  # two deployments of the same scope want different things
    "overridden",  # a deployment under clients/<name>/ decides this package on this device
    "suspended",  # the deployment is suspended; nothing is issued
    "waiting",  # in a rollout wave that has not started yet
    "halted",  # the rollout halted (failures or a rollback); nothing new is issued
    "scheduled",  # the next maintenance window is too far ahead to issue the job yet
    "rolled-back",  # a rollback returned the device to the version it had before
]


@dataclass(frozen=True)
class JobIntent:
    """One job the plan wants issued."""

    agent_id: AgentId
    client: str
    deployment: str
    action: JobAction
    package: str
    version: str
    installer: Installer
    previous_version: str | None = None
    not_before: datetime | None = None
    """Start of the maintenance window the install must wait for (the agent may download earlier)."""
    not_after: datetime | None = None
    """End of that window: the agent does not start the install after it."""


@dataclass(frozen=True)
class Cancellation:
    """An open job that no longer matches the desired state (and is not yet leased)."""

    job_id: JobId
    agent_id: AgentId
    reason: str


class DeviceOutcome(NamedTuple):
    """Where one device stands with respect to one deployment.

    A NamedTuple rather than a frozen dataclass: a plan for 10,000 devices makes 200,000 of
    them, and tuple construction is several times cheaper.
    """

    deployment: str
    agent_id: AgentId
    client: str
    hostname: str
    package: str
    ensure: Literal["present", "absent"]
    version: str
    state: OutcomeState
    reason: str = ""
    installed_version: str | None = None
    action: JobAction | None = None
    """The action this device needs (issued now or already in flight); None when converged."""
    wave: int | None = None
    """The rollout wave (1-based) the device is in."""


@dataclass(frozen=True)
class Plan:
    revision: str
    jobs: tuple[JobIntent, ...] = ()
    cancellations: tuple[Cancellation, ...] = ()
    outcomes: tuple[DeviceOutcome, ...] = ()
    deployments: tuple[str, ...] = field(default=())
    """Every deployment the plan covered, including those that target no device."""
    rollouts: tuple[RolloutReport, ...] = ()
    """A full plan's rollout of every deployment (incremental plans leave rollouts as they were)."""
    needs_full: bool = False
    """An incremental plan saw a result that may move a rollout: a full pass should follow."""
    covers_everything: bool = True
    """A full plan (every agent); an incremental one covers only the dirty agents."""

    @property
    def is_empty(self) -> bool:
        return not self.jobs and not self.cancellations

    def outcomes_by_deployment(self) -> dict[str, list[DeviceOutcome]]:
        grouped: dict[str, list[DeviceOutcome]] = defaultdict(list)
        for outcome in self.outcomes:
            grouped[outcome.deployment].append(outcome)
        return dict(grouped)
