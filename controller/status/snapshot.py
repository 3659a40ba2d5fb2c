"""The data a status report is rendered from. Plain, sorted, free of volatile timestamps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class RevisionInfo:
    sha: str
    summary: str
    author: str
    committed_at: datetime | None
    problems: tuple[str, ...] = ()
    note: str = ""
    """For an applied revision merged from a planned proposal: how it compared with the plan."""


@dataclass(frozen=True)
class JobLine:
    job_id: str
    action: str
    package: str
    version: str
    state: str
    reason: str
    finished_at: datetime | None


@dataclass(frozen=True)
class DeviceTarget:
    deployment: str
    package: str
    ensure: str
    version: str
    state: str
    reason: str
    installed_version: str | None


@dataclass(frozen=True)
class AlertLine:
    id: int
    type: str
    severity: str
    state: str
    message: str
    hostname: str
    raised_at: datetime
    cleared_at: datetime | None


@dataclass(frozen=True)
class TicketLine:
    id: int
    title: str
    state: str
    priority: str
    assignee: str
    created_at: datetime


@dataclass(frozen=True)
class FailingCheck:
    """A check of a policy that is not compliant on the device now, with the agent's evidence."""

    policy: str
    policy_status: str
    mode: str
    check: str
    status: str
    evidence: str


@dataclass(frozen=True)
class PolicyCompliance:
    policy: str
    compliant: int
    non_compliant: int
    error: int
    not_applicable: int
    unknown: int

    @property
    def total(self) -> int:
        return self.compliant + self.non_compliant + self.error + self.not_applicable + self.unknown


@dataclass(frozen=True)
class DeviceReport:
    agent_id: str
    client: str
    hostname: str
    online: bool
    labels: tuple[tuple[str, str], ...]
    managed: tuple[tuple[str, str], ...]
    """(package, version) pairs from the agent's receipts."""
    targets: tuple[DeviceTarget, ...]
    recent_jobs: tuple[JobLine, ...]
    hardware: tuple[tuple[str, str], ...] = ()
    """A summary: manufacturer, model, serial, CPU, memory, disks, OS (empty before the first report)."""
    software_count: int = 0
    alerts: tuple[AlertLine, ...] = ()
    """The device's recent alerts, newest first: open ones and those of the last 30 days."""
    failing_checks: tuple[FailingCheck, ...] = ()
    """Checks of its current policy versions that are non-compliant or in error, by policy."""

    @property
    def file_name(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-." else "-" for c in self.hostname.lower())
        return f"{safe.strip('-.') or 'device'}_{self.agent_id.removeprefix('a_')[:8]}.yaml"


@dataclass(frozen=True)
class DeploymentSummary:
    ref: str
    client: str | None
    package: str
    ensure: str
    version: str
    counts: tuple[tuple[str, int], ...]
    """(state, devices) pairs, sorted by state."""

    def count(self, *states: str) -> int:
        return sum(n for state, n in self.counts if state in states)

    @property
    def total(self) -> int:
        return sum(n for _state, n in self.counts)


@dataclass(frozen=True)
class WaveProgress:
    """One wave of a rollout, its own devices, as the last full reconcile counted them."""

    wave: int
    size: int
    succeeded: int
    failed: int
    in_progress: int
    offline: int
    skipped: int
    waiting: int
    """Its wave has not started yet."""


@dataclass(frozen=True)
class RolloutProgress:
    """A deployment's rollout: the same record GET /api/deployments/{id}/status returns."""

    ref: str
    client: str | None
    wave: int
    """The active wave, 1-based."""
    waves: tuple[WaveProgress, ...]
    halted: bool
    reason: str
    completed: bool
    rolled_back_at: datetime | None
    soak_until: datetime | None
    """While the active wave met its threshold and soaks: when the next wave may start."""


@dataclass(frozen=True)
class LicenceLine:
    ref: str
    product: str
    seats: int
    used: int
    state: str
    expires: date | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class WarrantyLine:
    hostname: str
    serial: str
    vendor: str
    end: date
    days_left: int


@dataclass(frozen=True)
class WarrantyProblem:
    hostname: str
    serial: str
    error: str


@dataclass(frozen=True)
class ClientReport:
    name: str
    display_name: str
    devices: tuple[DeviceReport, ...]
    deployments: tuple[DeploymentSummary, ...]
    licences: tuple[LicenceLine, ...] = ()
    warranties: tuple[WarrantyLine, ...] = ()
    """Devices whose warranty ended or ends within 90 days."""
    warranty_problems: tuple[WarrantyProblem, ...] = ()
    """Devices whose last warranty lookup failed (the cached answer, if any, still counts)."""
    open_alerts: tuple[AlertLine, ...] = ()
    open_tickets: tuple[TicketLine, ...] = ()
    compliance: tuple[PolicyCompliance, ...] = ()
    """Per policy that targets the client's devices: how many are in each state (unknown: no result yet)."""
    rollouts: tuple[RolloutProgress, ...] = ()
    """The rollouts of the client's own deployments and of MSP-wide ones that target its devices."""

    @property
    def halted_rollouts(self) -> tuple[RolloutProgress, ...]:
        return tuple(rollout for rollout in self.rollouts if rollout.halted)

    @property
    def online(self) -> int:
        return sum(1 for device in self.devices if device.online)

    def count(self, *states: str) -> int:
        return sum(deployment.count(*states) for deployment in self.deployments)


@dataclass(frozen=True)
class ConnectorLine:
    """A ticket connector (or the e-mail outbox): what waits to be delivered, how polling goes.
    No moving clock: the oldest pending row shows its time and a coarse age bucket."""

    name: str
    type: str
    pending: int
    oldest_pending_at: datetime | None
    oldest_pending_age: str
    failed: int
    last_error: str
    polling: str
    """"every N min", "off", or "" for connectors that cannot be polled."""
    poll_failures: int
    failed_polls: int
    resolved_from_psa: int
    last_poll_error: str


@dataclass(frozen=True)
class ProposalReport:
    branch: str
    head: str
    valid: bool
    markdown: str


@dataclass(frozen=True)
class StatusSnapshot:
    applied: RevisionInfo | None
    rejected: tuple[RevisionInfo, ...]
    """Rejected revisions newer than the applied one first, newest first."""
    clients: tuple[ClientReport, ...]
    msp_deployments: tuple[DeploymentSummary, ...] = field(default=())
    plans: tuple[ProposalReport, ...] = ()
    """Published plans of the open proposals, by branch."""
    source_error: str = ""
    """Why the repository could not be fetched, while it cannot; empty when fetching works."""
    connectors: tuple[ConnectorLine, ...] = ()
    """Ticket connectors configured or with something still in the outbox, by name."""
    rollouts: tuple[RolloutProgress, ...] = ()
    """Every deployment's rollout, by deployment id."""

    @property
    def halted_rollouts(self) -> tuple[RolloutProgress, ...]:
        return tuple(rollout for rollout in self.rollouts if rollout.halted)

    @property
    def msp_rollouts(self) -> tuple[RolloutProgress, ...]:
        return tuple(rollout for rollout in self.rollouts if rollout.client is None)
