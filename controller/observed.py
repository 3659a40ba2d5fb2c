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
    """Consecutive failed attempts of one (package, version, action) on one agent."""

    failures: int
    last_failed_at: datetime
    reason: str


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


@dataclass(frozen=True)
class ObservedState:
    agents: Mapping[AgentId, ObservedAgent] = field(default_factory=dict)

    def of_client(self, client: str) -> list[ObservedAgent]:
        return [agent for agent in self.agents.values() if agent.client == client]
