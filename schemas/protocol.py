"""The agent wire protocol under ``/api/agent/v1``: request and response bodies.

Flow: enrol once with a client's enrolment token; then loop: a cheap check-in
(anything new?), inventory when asked, lease jobs, report events per job.
Every body has a size cap (``schemas.limits``) and unknown fields are refused.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from schemas.inventory import HardwareInventory, LicenseKeyItem, NetworkNeighbour
from schemas.jobs import JobAction, SignedJob, WireModel
from schemas.limits import MAX_JOB_OUTPUT_CHARS
from schemas.monitoring import AlertSeverity, MonitorName
from schemas.packages import OsName

AGENT_API_PREFIX = "/api/agent/v1"


class Facts(WireModel):
    """What the agent knows about its machine; these become device labels."""

    hostname: str = Field(min_length=1, max_length=253)
    os: OsName
    os_version: str = Field(default="", max_length=200)
    arch: str = Field(default="", max_length=50)
    agent_version: str = Field(default="", max_length=50)


class EnrollRequest(WireModel):
    token: str = Field(min_length=1, max_length=200)
    facts: Facts
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)


class SigningKey(WireModel):
    key_id: str
    public_key: str = Field(description="Base64 raw Ed25519 public key (32 bytes).")


class EnrollResponse(WireModel):
    agent_id: str
    client: str
    credential: str = Field(description="Bearer credential for every later request. Secret.")
    signing_keys: list[SigningKey]
    checkin_interval_seconds: int


class CheckinRequest(WireModel):
    seen_seq: int = Field(
        ge=0, description="Highest job seq this agent has finished; the server answers relative to it."
    )


class CheckinResponse(WireModel):
    jobs_pending: bool
    inventory: Literal["none", "changed", "full"]
    checkin_interval_seconds: int
    server_time: datetime
    config_version: str = Field(
        default="", description="Version of GET /config; fetch it when it differs from the one held.")


SoftwareSource = Literal[
    "dpkg", "rpm", "snap", "flatpak", "msi", "registry", "appx", "app", "pkgutil", "other"
]


class SoftwareItem(WireModel):
    name: str = Field(min_length=1, max_length=500)
    version: str = Field(default="", max_length=200)
    source: SoftwareSource = "other"
    arch: str = Field(default="", max_length=50)
    publisher: str = Field(default="", max_length=500)
    install_date: date | None = None


class ManagedItem(WireModel):
    """A package Fleetward installed, as the agent's receipt says."""

    package: str = Field(min_length=1, max_length=63)
    version: str = Field(min_length=1, max_length=64)
    sha256: str = Field(default="", max_length=64)
    installed_at: datetime | None = None


InventorySection = Literal["facts", "software", "managed", "hardware", "licenses", "network"]


class SoftwareDelta(WireModel):
    """The software section as changes to the one the controller last accepted from this agent.

    ``base`` is that section's hash; the controller applies the change only when it still holds
    exactly that section, and otherwise asks for a full report. ``hashes["software"]`` is the hash
    of the section after the change, as for a whole section. An item whose publisher or install
    date changed is removed and added again.
    """

    base: str = Field(min_length=1, max_length=128)
    added: list[SoftwareItem] = Field(default_factory=list, max_length=20_000)
    removed: list[SoftwareItem] = Field(default_factory=list, max_length=20_000)


class InventoryReport(WireModel):
    """Sections set to None are unchanged since the hashes the controller last accepted."""

    full: bool
    agent_id: str | None = Field(
        default=None, max_length=64,
        description="The sender's own agent id; a report naming another agent is refused and audited.")
    facts: Facts | None = None
    software: list[SoftwareItem] | None = Field(default=None, max_length=20_000)
    software_delta: SoftwareDelta | None = Field(
        default=None, description="Instead of ``software``: only what changed since the accepted section.")
    managed: list[ManagedItem] | None = Field(default=None, max_length=10_000)
    hardware: HardwareInventory | None = None
    licenses: list[LicenseKeyItem] | None = Field(default=None, max_length=100)
    network: list[NetworkNeighbour] | None = Field(default=None, max_length=4096)
    hashes: dict[InventorySection, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_software_form(self) -> InventoryReport:
        if self.software is not None and self.software_delta is not None:
            raise ValueError("send either 'software' or 'software_delta', not both")
        return self


class InventoryAck(WireModel):
    accepted: list[InventorySection]


class LeaseRequest(WireModel):
    wait_seconds: float = Field(default=0, ge=0, le=30, description="Long-poll up to this long.")
    max_jobs: int = Field(default=10, ge=1, le=100)


class LeaseResponse(WireModel):
    jobs: list[SignedJob]
    seq_high: int = Field(description="The agent's highest issued seq when this lease was answered.")


JobStatus = Literal["running", "succeeded", "failed", "refused"]


class JobEvent(WireModel):
    """Progress (status running) or the final result of one job."""

    status: JobStatus
    reason: str = Field(default="", max_length=2000, description="Why it failed or was refused.")
    message: str = Field(default="", max_length=2000)
    action: JobAction | None = None
    managed: ManagedItem | None = Field(
        default=None, description="After a result: what detection found (None = not installed)."
    )
    output: str = Field(default="", max_length=MAX_JOB_OUTPUT_CHARS)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobEventAck(WireModel):
    job_id: str
    state: str


MAX_ALERTS_PER_REPORT = 500

AlertValue = float | int | bool | Annotated[str, StringConstraints(max_length=200)]


class AgentAlert(WireModel):
    """One raise or clear from an agent monitor. The controller keys it by agent, monitor and subject,
    so re-sending the same alert (the agent did not hear the answer) changes nothing."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The agent's id for this item; echoed in the ack.")
    monitor: MonitorName
    subject: str = Field(default="", max_length=200, description="The volume, process... ('' for the machine).")
    severity: AlertSeverity
    state: Literal["raised", "cleared"]
    message: str = Field(default="", max_length=500)
    values: dict[Annotated[str, StringConstraints(max_length=50)], AlertValue] = Field(
        default_factory=dict, max_length=16, description="The measurements behind the alert.")
    observed_at: datetime


class AlertReport(WireModel):
    agent_id: str | None = Field(
        default=None, max_length=64,
        description="The sender's own agent id; a report naming another agent is refused and audited.")
    alerts: list[AgentAlert] = Field(max_length=MAX_ALERTS_PER_REPORT)


class AlertAck(WireModel):
    stored: list[str] = Field(description="Ids of the alerts stored; the agent drops them from its outbox.")


class ErrorBody(WireModel):
    """Every API error: a stable machine-readable code and a message for people."""

    code: str
    message: str
    detail: list[dict[str, object]] | None = None
