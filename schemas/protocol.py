"""The agent wire protocol under ``/api/agent/v1``: request and response bodies.

Flow: enrol once with a client's enrolment token; then loop: a cheap check-in
(anything new?), inventory when asked, lease jobs, report events per job.
Every body has a size cap (``schemas.limits``) and unknown fields are refused.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, SerializerFunctionWrapHandler, StringConstraints, model_serializer, model_validator

from schemas.checks import Check
from schemas.inventory import HardwareInventory, LicenseKeyItem, NetworkNeighbour
from schemas.jobs import JobAction, SignedJob, WireModel
from schemas.limits import MAX_JOB_OUTPUT_CHARS
from schemas.monitoring import AlertSeverity, MonitorName
from schemas.packages import OsName
from schemas.policies import Schedule, Triggers
from schemas.scripts import ScriptParameter

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
    policies_version: str = Field(
        default="", max_length=64,
        description="Version of GET /policies (this agent's policy bundle, run-now requests included); "
                    "fetch it when it differs from the one held.")


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
JobPhase = Literal["downloading", "waiting-for-window", "installing", "detecting", "rolling-back"]
"""A running job's phase: downloading (with a percentage), waiting for its maintenance window with the
artifact pre-staged, installing, detecting the result, or restoring the previous version after a failure."""
RebootRequest = Literal["none", "soft", "hard"]
"""The restart an install asked for: none, soft (a restart is needed to finish) or hard (the installer
initiated one). The agent only requests it; it never reboots the machine."""
MAX_RETRY_AFTER_SECONDS = 7 * 86_400


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
    phase: JobPhase | None = Field(default=None, description="Where a running job is (progress events).")
    download_percent: int | None = Field(default=None, ge=0, le=100,
                                         description="While downloading: how much of the artifact arrived.")
    rolled_back_to: str | None = Field(
        default=None, max_length=64,
        description="After a failed install: the version the agent restored (its cached artifact), if any.")
    retry_after_seconds: int | None = Field(
        default=None, ge=1, le=MAX_RETRY_AFTER_SECONDS,
        description="With a failed result: the installer said \"not now\" (another installation running, a reboot "
                    "pending); the controller issues the job again after this many seconds and does not count it "
                    "as a failed attempt. Absent (older agents): an ordinary failure.")
    reboot: RebootRequest | None = Field(
        default=None,
        description="With a result: the restart the installer asked for (requested, never performed by the "
                    "agent). Absent: an older agent that did not say; the message may still mention it.")


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


# -- policies ------------------------------------------------------------------------------------

POLICY_BUNDLE_SIGNATURE_CONTEXT = b"fleetward-policies-v1\n"
"""Prefix of a signed policy bundle, so its signature can never pass for a job's (or the reverse)."""

MAX_BUNDLE_POLICIES = 200
MAX_BUNDLE_SCRIPTS = 200
MAX_BUNDLE_SCRIPT_CHARS = 256 * 1024
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
"""A signed bundle larger than this is refused by the agent (and never built by the controller)."""
MAX_POLICY_RESULTS = 200
MAX_POLICY_RESULTS_BYTES = 1024 * 1024
MAX_EVIDENCE_CHARS = 1000

PolicyMode = Literal["audit", "enforce"]
CheckStatus = Literal["compliant", "non_compliant", "error", "not_applicable"]
PolicyTrigger = Literal["schedule", "start", "bundle", "alert", "inventory", "job", "run_now"]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class BundledScript(WireModel):
    """A library Script as the agent runs it: its text, pinned by SHA-256, and how to run it."""

    name: str = Field(min_length=1, max_length=63, description="The name checks and remediations use.")
    ref: str = Field(max_length=128, description="``name`` (MSP-wide) or ``client.name``.")
    shell: Literal["bash", "sh", "zsh", "powershell", "python"]
    text: str = Field(max_length=MAX_BUNDLE_SCRIPT_CHARS)
    sha256: Sha256Hex
    timeout_seconds: int = Field(ge=1, le=86_400)
    os: list[OsName] = Field(min_length=1, max_length=3)
    parameters: list[ScriptParameter] = Field(default_factory=list, max_length=50)


class BundledPolicy(WireModel):
    """One Policy that applies to the agent, its checks expanded."""

    id: str = Field(min_length=1, max_length=128, description="``name`` (MSP-wide) or ``client.name``.")
    version: str = Field(min_length=1, max_length=64,
                         description="Digest of everything below and of the scripts it uses.")
    mode: PolicyMode
    every_seconds: int | None = Field(ge=60, le=366 * 86_400,
                                      description="The interval schedule; null when ``cron`` schedules the policy.")
    cron: str | None = Field(default=None, max_length=200, description="Five-field cron, read in ``timezone``.")
    timezone: str | None = Field(
        default=None, max_length=64,
        description="IANA zone of the cron times (the policy's, else the agent's client's); null: UTC.")
    triggers: Triggers = Field(default_factory=Triggers, description="Device events that run the policy early.")
    checks: list[Check] = Field(max_length=100)
    scripts: dict[str, str] = Field(
        default_factory=dict, max_length=200,
        description="Script name a check or remediation uses -> ``ref`` of the bundle's script (resolved from "
                    "the policy's scope: its client's Script first, then MSP-wide).")

    @model_validator(mode="after")
    def _one_schedule(self) -> BundledPolicy:
        if (self.every_seconds is None) == (self.cron is None):
            raise ValueError("a bundled policy has either every_seconds or cron")
        if self.cron is not None:
            Schedule(cron=self.cron)  # refuse a bundle whose cron the engine could not read
        return self

    @model_serializer(mode="wrap")
    def _without_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """Leave out cron, timezone and triggers while they hold their defaults: a policy that uses
        none of them is sent (and versioned) exactly as before they existed, so agents that predate
        them keep accepting its bundle."""
        data: dict[str, object] = handler(self)
        for name in ("cron", "timezone"):
            if data.get(name) is None:
                data.pop(name, None)
        if self.triggers == Triggers():
            data.pop("triggers", None)
        return data


class PolicyRunRequest(WireModel):
    """An operator's "run now" (POST /api/policies/{id}/execute) still waiting for this agent's result."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    policy_id: str = Field(max_length=128)


class PolicyBundle(WireModel):
    """Everything the agent's policy engine needs; signed, bound to one agent."""

    agent_id: str = Field(max_length=64)
    revision: str = Field(max_length=64, description="The applied revision the bundle was built from.")
    version: str = Field(max_length=64, description="Equals the check-in's ``policies_version``.")
    policies: list[BundledPolicy] = Field(default_factory=list, max_length=MAX_BUNDLE_POLICIES)
    scripts: list[BundledScript] = Field(default_factory=list, max_length=MAX_BUNDLE_SCRIPTS)
    run_requests: list[PolicyRunRequest] = Field(default_factory=list, max_length=MAX_BUNDLE_POLICIES)


class SignedPolicyBundle(WireModel):
    """``payload`` is the bundle's canonical JSON; ``signature`` is Ed25519 over
    ``POLICY_BUNDLE_SIGNATURE_CONTEXT + payload`` with the job-signing key ``key_id``."""

    key_id: str = Field(max_length=64)
    payload: str = Field(max_length=MAX_BUNDLE_BYTES)
    signature: str = Field(max_length=200)


class CheckOutcome(WireModel):
    """One check of one policy run: the final status, the evidence, and what remediation did."""

    name: str = Field(min_length=1, max_length=63)
    type: str = Field(min_length=1, max_length=32)
    status: CheckStatus
    evidence: str = Field(default="", max_length=MAX_EVIDENCE_CHARS)
    first_status: CheckStatus | None = Field(
        default=None, description="Before remediation, when remediation ran (the status is the re-check's).")
    remediation: str = Field(default="", max_length=MAX_EVIDENCE_CHARS,
                             description="How the remediation script ended and what it said ('' when none ran).")


class PolicyResult(WireModel):
    """One run of one policy on the agent. Re-sending the same ``id`` stores nothing new."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The agent's id for this run; echoed in the ack.")
    policy_id: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=64)
    status: CheckStatus
    mode: PolicyMode
    trigger: PolicyTrigger
    run_request: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    started_at: datetime
    finished_at: datetime
    checks: list[CheckOutcome] = Field(max_length=100)


class PolicyResultReport(WireModel):
    agent_id: str | None = Field(
        default=None, max_length=64,
        description="The sender's own agent id; a report naming another agent is refused and audited.")
    results: list[PolicyResult] = Field(max_length=MAX_POLICY_RESULTS)


class PolicyResultAck(WireModel):
    stored: list[str] = Field(description="Ids of the results stored (or stored before); the agent drops them.")


def policy_status(checks: list[CheckStatus]) -> CheckStatus:
    """A policy's status from its checks': any error is an error, then any failure is non-compliant;
    compliant needs at least one compliant check (a policy of only not-applicable checks is not applicable)."""
    for status in ("error", "non_compliant", "compliant"):
        if status in checks:
            return status
    return "not_applicable"
