"""The observed state: what agents reported and which jobs are in flight, as plain data.

Read from SQL by ``controller.store`` in a few set-based queries and handed to the
planner together with the desired state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from schemas.ids import AgentId, JobId
from schemas.jobs import JobAction
from schemas.packages import Installer

OpenJobState = Literal["queued", "leased", "running"]


@dataclass(frozen=True)
class OpenJob:
    """A job issued and not finished: the planner never issues an equivalent second one."""

    job_id: JobId
    action: JobAction
    package: str
    version: str
    deployment: str
    state: OpenJobState
    created_at: datetime


@dataclass(frozen=True)
class FailureRecord:
    """Consecutive unsuccessful attempts of one (package, version, action) on one agent."""

    failures: int
    """Failed attempts; "retry later" answers are not among them."""
    last_failed_at: datetime
    reason: str
    """The latest result's reason."""
    deferrals: int = 0
    """Results that said "retry later" (the installer could not run now)."""
    retry_at: datetime | None = None
    """Set when the latest result said "retry later": when the installer asked to be tried again."""


FailureKey = tuple[str, str, JobAction]
"""(package, version, action)."""


@dataclass(frozen=True)
class ObservedAgent:
    agent_id: AgentId
    client: str
    hostname: str
    labels: Mapping[str, str]
    """Enrolment labels merged with reported facts (os, os_version, arch, hostname, client)."""
    managed: Mapping[str, str] = field(default_factory=dict)
    """Package name -> installed version, from the agent's receipts."""
    open_jobs: tuple[OpenJob, ...] = ()
    failures: Mapping[FailureKey, FailureRecord] = field(default_factory=dict)
    last_seen: datetime | None = None
    """When the agent last called in; None (unknown) counts as online."""


@dataclass(frozen=True)
class RolloutState:
    """What the last full pass concluded for one deployment (stored between passes)."""

    digest: str
    wave: int
    """Index of the active wave (0-based)."""
    started_at: tuple[datetime, ...]
    """When each wave up to the active one started."""
    cutoffs: tuple[int, ...] = ()
    """Per wave: the largest device hash it covers (-1 for an empty wave)."""
    met_at: datetime | None = None
    """When the active wave met the success threshold (its soak started)."""
    halted: bool = False
    reason: str = ""
    rolled_back: bool = False
    completed: bool = False

    def allows(self, device_hash: int) -> bool:
        """Whether a device with ``device_hash`` may get a job under this state."""
        if self.halted or not self.cutoffs:
            return False
        return device_hash <= self.cutoffs[min(self.wave, len(self.cutoffs) - 1)]

    def wave_of(self, device_hash: int) -> int | None:
        for index, cutoff in enumerate(self.cutoffs):
            if device_hash <= cutoff:
                return index
        return None


@dataclass(frozen=True)
class PriorVersion:
    """What a rollback returns one device to: the version before the deployment touched it."""

    version: str | None
    """None: the package was not installed before, so a rollback uninstalls it."""
    installer: Installer | None
    """The installer that installed ``version`` (from that job); None when no record is left."""


@dataclass(frozen=True)
class ObservedState:
    agents: Mapping[AgentId, ObservedAgent] = field(default_factory=dict)
    rollouts: Mapping[str, RolloutState] = field(default_factory=dict)
    """Deployment ref -> what the last full pass concluded about its rollout."""
    rollback: Mapping[str, Mapping[AgentId, PriorVersion]] = field(default_factory=dict)
    """For each rolled-back deployment: the devices it touched and their prior versions."""

    def of_client(self, client: str) -> list[ObservedAgent]:
        return [agent for agent in self.agents.values() if agent.client == client]
