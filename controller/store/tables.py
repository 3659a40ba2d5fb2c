"""The ORM models: every table the store owns, in one place.

The models define the schema (Alembic's autogenerate compares them with the
migrations in a test) and give the hot paths their ``Table`` objects; queries are
Core ``select()``/``insert()``/``update()`` on ``Model.__table__`` so reading
10,000 agents never builds 10,000 ORM objects.

Conventions: ids are short prefixed strings made with ``secrets`` (``a_`` agents,
``j_`` jobs, ``e_``/``t_`` tokens); every timestamp is :class:`UtcDateTime`; state
columns are strings guarded by a CHECK constraint; append-only logs use an
autoincrement integer key so their order is the insertion order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from controller.store.timestamps import UtcDateTime

# Named constraints so migrations and autogenerate agree on every engine.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL logs get 64 bits.
LogId = BigInteger().with_variant(Integer(), "sqlite")

AGENT_ID = 34  # "a_" + 32 hex
JOB_ID = 34  # "j_" + 32 hex
TOKEN_ID = 18  # "e_"/"t_" + 16 hex
CLIENT = 63  # a DNS label
NAME = 253
REF = 128  # "client.name"
VERSION = 64
SHA = 64
BRANCH = 255
STATE = 16

JOB_STATES = ("queued", "leased", "running", "succeeded", "failed", "refused", "cancelled", "expired")
OPEN_JOB_STATES = ("queued", "leased", "running")
RESULT_STATES = ("succeeded", "failed", "refused")
INVENTORY_WANTED = ("none", "changed", "full")
ROLES = ("viewer", "operator", "admin")
ACTOR_KINDS = ("api-token", "agent", "commit", "cli", "system")
REVISION_STATES = ("applied", "rejected")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime, date: Date, dict[str, Any]: JSON, list[str]: JSON,
                           list[dict[str, Any]]: JSON,
                           list[int]: JSON}


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(_one_of("inventory_wanted", INVENTORY_WANTED), name="inventory_wanted"),
    )

    id: Mapped[str] = mapped_column(String(AGENT_ID), primary_key=True)
    client: Mapped[str] = mapped_column(String(CLIENT), index=True)
    hostname: Mapped[str] = mapped_column(String(NAME))
    labels: Mapped[dict[str, Any]]
    """Labels given at enrolment; facts overlay them (see ``device_labels``)."""
    facts: Mapped[dict[str, Any]]
    credential_hash: Mapped[str] = mapped_column(String(SHA))
    enrolled_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    """Indexed: the agent-offline check reads only the agents silent past a threshold."""
    last_job_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    inventory_wanted: Mapped[str] = mapped_column(String(8), server_default="full")
    inventory_hashes: Mapped[dict[str, Any]]
    revoked_at: Mapped[datetime | None]
    enrolment_token_id: Mapped[str | None] = mapped_column(String(TOKEN_ID))


class EnrollmentToken(Base):
    __tablename__ = "enrollment_tokens"

    id: Mapped[str] = mapped_column(String(TOKEN_ID), primary_key=True)
    client: Mapped[str] = mapped_column(String(CLIENT), index=True)
    secret_hash: Mapped[str] = mapped_column(String(SHA))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(NAME))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, server_default="0")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[str] = mapped_column(String(TOKEN_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    role: Mapped[str] = mapped_column(String(STATE))
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    """The only client this token may see; None for MSP-wide."""
    secret_hash: Mapped[str] = mapped_column(String(SHA))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class SoftwareInventoryItem(Base):
    __tablename__ = "asset_software_inventory"
    __table_args__ = (
        # Covers the fleet-wide search: name, then version and device, without reading the rows.
        Index("ix_asset_software_inventory_name_key", "name_key", "version", "agent_id"),
    )

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    client: Mapped[str] = mapped_column(String(CLIENT))
    name: Mapped[str] = mapped_column(String(500))
    version: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(STATE))
    arch: Mapped[str] = mapped_column(String(50))
    publisher: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime]
    install_date: Mapped[date | None]
    name_key: Mapped[str] = mapped_column(String(500), server_default="")
    """The name in lower case: what the fleet-wide software search matches, through an index."""


class SoftwareSection(Base):
    """Each device's software section in one compact text (a record per package: source, name,
    arch, version, publisher, install date): what a report is compared with, read as one row
    instead of one row per package. The rows in asset_software_inventory serve the searches."""

    __tablename__ = "asset_software_sections"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    entries: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class HardwareInventory(Base):
    """One row per device: the agent's whole hardware report, plus the columns people search by."""

    __tablename__ = "asset_hardware_inventory"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    client: Mapped[str] = mapped_column(String(CLIENT), index=True)
    manufacturer: Mapped[str] = mapped_column(String(500))
    model: Mapped[str] = mapped_column(String(500))
    serial: Mapped[str] = mapped_column(String(500), index=True)
    cpu_model: Mapped[str] = mapped_column(String(500))
    cpu_cores: Mapped[int] = mapped_column(Integer)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    disk_bytes: Mapped[int] = mapped_column(BigInteger)
    os_name: Mapped[str] = mapped_column(String(500))
    os_version: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class LicenseKey(Base):
    """A licence key an agent found on its device (Windows product key); the key is stored sealed."""

    __tablename__ = "asset_license_keys"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    product: Mapped[str] = mapped_column(String(500), primary_key=True)
    client: Mapped[str] = mapped_column(String(CLIENT), index=True)
    channel: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(STATE))
    partial_key: Mapped[str] = mapped_column(String(10))
    sealed_key: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class AssetLicense(Base):
    """A License resource of the applied revision and its computed compliance."""

    __tablename__ = "asset_licenses"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str | None] = mapped_column(String(CLIENT), index=True)
    name: Mapped[str] = mapped_column(String(63))
    product: Mapped[str] = mapped_column(String(200))
    vendor: Mapped[str] = mapped_column(String(200))
    seats: Mapped[int] = mapped_column(Integer)
    seats_used: Mapped[int] = mapped_column(Integer)
    expires: Mapped[date | None]
    state: Mapped[str] = mapped_column(String(STATE))
    """ok, over-deployed, expiring, expired, untracked (no consumedBy rule)."""
    detail: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(1024))
    updated_at: Mapped[datetime]


class AssetWarranty(Base):
    """Warranty per serial: a vendor lookup (cached with a TTL) or a manual record from git."""

    __tablename__ = "asset_warranties"

    serial: Mapped[str] = mapped_column(String(100), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(STATE))
    """dell, lenovo, hp, manual."""
    model: Mapped[str] = mapped_column(String(500))
    start: Mapped[date | None]
    end: Mapped[date | None]
    service_level: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]]
    fetched_at: Mapped[datetime | None]
    fresh_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    next_attempt_at: Mapped[datetime | None]


class NetworkDevice(Base):
    """A device some agent of a client saw on its networks."""

    __tablename__ = "asset_network_devices"
    __table_args__ = (UniqueConstraint("client", "ip", "mac"),)

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(CLIENT), index=True)
    ip: Mapped[str] = mapped_column(String(60))
    mac: Mapped[str] = mapped_column(String(40))
    """Lower-case colon form, or "" when unknown (a scan across a router)."""
    hostname: Mapped[str] = mapped_column(String(500))
    vendor: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(STATE))
    open_ports: Mapped[list[int]]
    seen_by: Mapped[str] = mapped_column(String(AGENT_ID))
    managed_agent_id: Mapped[str | None] = mapped_column(String(AGENT_ID))
    """The enrolled agent with this MAC address, when there is one."""
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class AssetChange(Base):
    """One change of a device's inventory: what, old -> new, when."""

    __tablename__ = "asset_history"
    __table_args__ = (Index(None, "agent_id", "id"), Index(None, "client", "id"))

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(CLIENT))
    at: Mapped[datetime]
    section: Mapped[str] = mapped_column(String(STATE))
    change: Mapped[str] = mapped_column(String(STATE))
    """added, removed, changed; software also upgraded, downgraded."""
    item: Mapped[str] = mapped_column(String(500))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """An alert, raised by an agent monitor or by the controller (licences, warranties)."""

    __tablename__ = "agent_alert_history"
    __table_args__ = (Index(None, "client", "state"), Index(None, "key", "state"),
                      # the ticket worker: alerts changed since its last scan, and the alerts on a ticket
                      Index(None, "updated_at", "id"), Index(None, "service_request_id"))

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(CLIENT))
    agent_id: Mapped[str | None] = mapped_column(String(AGENT_ID))
    type: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(STATE))
    key: Mapped[str] = mapped_column(String(500))
    """Identity for deduplication: one open alert per key."""
    state: Mapped[str] = mapped_column(String(STATE))
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]]
    raised_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    service_request_id: Mapped[int | None] = mapped_column(BigInteger)


SERVICE_REQUEST_STATES = ("new", "acknowledged", "in_progress", "resolved", "closed")
OPEN_SERVICE_REQUEST_STATES = ("new", "acknowledged", "in_progress")
PRIORITIES = ("low", "medium", "high", "critical")


class ServiceRequest(Base):
    """A ticket in the built-in store: opened by an alert-to-ticket rule or by hand, for one client."""

    __tablename__ = "service_requests"
    __table_args__ = (
        CheckConstraint(_one_of("state", SERVICE_REQUEST_STATES), name="state"),
        CheckConstraint(_one_of("priority", PRIORITIES), name="priority"),
        # At most one open ticket per deduplication key: open_key holds the key while the ticket
        # is open and is NULL once it is resolved or closed (NULLs never collide).
        UniqueConstraint("client", "open_key"),
        Index(None, "client", "state"),
    )

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(CLIENT))
    agent_id: Mapped[str | None] = mapped_column(String(AGENT_ID))
    source_alert_id: Mapped[int | None] = mapped_column(BigInteger)
    dedup_key: Mapped[str] = mapped_column(String(500))
    open_key: Mapped[str | None] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(STATE))
    priority: Mapped[str] = mapped_column(String(STATE))
    board: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    rule: Mapped[str | None] = mapped_column(String(REF))
    """The AlertTicketRule that opened it (None: opened by hand)."""
    created_by: Mapped[str] = mapped_column(String(NAME))
    render_error: Mapped[str] = mapped_column(Text, server_default="")
    """Why the rule's templates could not be rendered (the ticket then has a plain title)."""
    escalation_steps: Mapped[int] = mapped_column(Integer, server_default="0")
    """How many of the rule's escalation steps were applied."""
    connector: Mapped[str | None] = mapped_column(String(CLIENT))
    """The PSA connector the ticket is also sent to (None: the built-in store only)."""
    external_id: Mapped[str | None] = mapped_column(String(200))
    external_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    """When the PSA's state of the ticket was last read (polling reads the longest-unread first)."""


class ServiceRequestNote(Base):
    """A note on a ticket: a repeat of its alert, the alert clearing, a person's comment, a state change."""

    __tablename__ = "service_request_notes"
    __table_args__ = (Index(None, "service_request_id", "id"),)

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(NAME))
    text: Mapped[str] = mapped_column(Text)


class TicketDelivery(Base):
    """The transactional outbox: what a PSA connector still has to be told, written in the same
    transaction as the ticket change, delivered in order per ticket, retried until it lands."""

    __tablename__ = "ticket_outbox"
    __table_args__ = (Index(None, "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    service_request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id", ondelete="CASCADE"),
                                                    index=True)
    connector: Mapped[str] = mapped_column(String(CLIENT))
    action: Mapped[str] = mapped_column(String(STATE))
    """create, note, resolve."""
    text: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(STATE))
    """pending, delivered, failed (a permanent refusal: fix the connector's settings)."""
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class TicketConnectorPoll(Base):
    """How reading ticket state back from one PSA connector goes: when next, the last error, counts."""

    __tablename__ = "ticket_connector_polls"

    connector: Mapped[str] = mapped_column(String(CLIENT), primary_key=True)
    next_poll_at: Mapped[datetime]
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, server_default="0")
    """Failed polls in a row (0 after a success)."""
    failed_polls: Mapped[int] = mapped_column(Integer, server_default="0")
    resolved: Mapped[int] = mapped_column(Integer, server_default="0")
    """Tickets resolved here because the PSA resolved or closed them."""
    last_error: Mapped[str] = mapped_column(Text, server_default="")


class ManagedSoftware(Base):
    """What Fleetward installed on a device, from the agent's receipts."""

    __tablename__ = "managed_software"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    package: Mapped[str] = mapped_column(String(63), primary_key=True)
    client: Mapped[str] = mapped_column(String(CLIENT))
    version: Mapped[str] = mapped_column(String(VERSION))
    sha256: Mapped[str] = mapped_column(String(SHA))
    installed_at: Mapped[datetime | None]
    reported_at: Mapped[datetime]


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("agent_id", "seq"),
        CheckConstraint(_one_of("state", JOB_STATES), name="state"),
        Index(None, "agent_id", "state"),
        Index(None, "client", "state"),
        # Open jobs, stale leases and recent results are all found by state first.
        Index(None, "state", "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(JOB_ID), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(CLIENT))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(STATE))
    action: Mapped[str] = mapped_column(String(STATE))
    package: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(VERSION))
    previous_version: Mapped[str | None] = mapped_column(String(VERSION))
    deployment: Mapped[str] = mapped_column(String(REF), index=True)
    revision: Mapped[str] = mapped_column(String(SHA))
    installer: Mapped[dict[str, Any]]
    not_before: Mapped[datetime | None]
    """Start of the maintenance window the install waits for (signed into the job)."""
    not_after: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(STATE))
    deliveries: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, server_default="")
    output: Mapped[str] = mapped_column(Text, server_default="")
    retry_after_seconds: Mapped[int | None] = mapped_column(Integer)
    """A failed result that said "retry later": the planner issues the job again after this long and
    does not count it as a failed attempt. NULL for other results and for agents that do not say."""
    reboot: Mapped[str | None] = mapped_column(String(STATE))
    """The restart a result requested (none, soft, hard); NULL when the agent did not say."""


class JobEvent(Base):
    """Every transition of every job: issued, leased, progress, result, requeued, expired."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(JOB_ID), index=True)
    agent_id: Mapped[str] = mapped_column(String(AGENT_ID))
    client: Mapped[str] = mapped_column(String(CLIENT))
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(STATE))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    message: Mapped[str] = mapped_column(Text, server_default="")
    data: Mapped[dict[str, Any] | None]


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (CheckConstraint(_one_of("state", REVISION_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha: Mapped[str] = mapped_column(String(SHA), index=True)
    branch: Mapped[str] = mapped_column(String(NAME))
    state: Mapped[str] = mapped_column(String(STATE))
    problems: Mapped[list[str]]
    """``path:line:col: message`` for a rejected revision."""
    author: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(String(500))
    committed_at: Mapped[datetime | None]
    seen_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    plan_note: Mapped[str | None] = mapped_column(Text)
    """For a revision merged from a planned proposal: how the applied plan differed from the
    published one (observed state changed in between); empty when it matched."""


class SoftwarePackage(Base):
    """Projection of the applied revision's Package resources (replaced wholesale on apply)."""

    __tablename__ = "software_packages"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(VERSION))
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(1024))
    revision: Mapped[str] = mapped_column(String(SHA))


class PackageDeployment(Base):
    """Projection of the applied revision's Deployment resources (replaced wholesale on apply)."""

    __tablename__ = "package_deployments"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    name: Mapped[str] = mapped_column(String(63))
    package: Mapped[str] = mapped_column(String(63))
    ensure: Mapped[str] = mapped_column(String(8))
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(1024))
    revision: Mapped[str] = mapped_column(String(SHA))


class DeploymentTarget(Base):
    """The planner's :class:`DeviceOutcome` per (deployment, device), for status and the API."""

    __tablename__ = "deployment_targets"

    deployment: Mapped[str] = mapped_column(String(REF), primary_key=True)
    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True)
    client: Mapped[str] = mapped_column(String(CLIENT), index=True)
    hostname: Mapped[str] = mapped_column(String(NAME))
    package: Mapped[str] = mapped_column(String(63))
    ensure: Mapped[str] = mapped_column(String(8))
    version: Mapped[str] = mapped_column(String(VERSION))
    state: Mapped[str] = mapped_column(String(STATE))
    reason: Mapped[str] = mapped_column(Text)
    installed_version: Mapped[str | None] = mapped_column(String(VERSION))
    action: Mapped[str | None] = mapped_column(String(STATE))
    wave: Mapped[int | None]
    """The rollout wave (1-based) the device is in."""
    updated_at: Mapped[datetime]


class DeploymentRollout(Base):
    """What the last full reconcile concluded about one deployment's rollout (keyed by spec digest)."""

    __tablename__ = "deployment_rollouts"

    deployment: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    digest: Mapped[str] = mapped_column(String(SHA))
    """Of the Deployment's and its Package's specs: a new revision of either starts afresh."""
    revision: Mapped[str] = mapped_column(String(SHA))
    wave: Mapped[int] = mapped_column(Integer)
    """0-based index of the active wave."""
    started_at: Mapped[list[str]]
    """ISO times at which each wave up to the active one started."""
    cutoffs: Mapped[list[int]]
    met_at: Mapped[datetime | None]
    halted: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text, server_default="")
    rolled_back_at: Mapped[datetime | None]
    completed: Mapped[bool]
    waves: Mapped[list[dict[str, Any]]]
    """The roll-up per wave of the last full pass."""
    updated_at: Mapped[datetime]


class DeploymentHistory(Base):
    """Every transition of every deployment: who (commit author, API token, the reconciler), what, when."""

    __tablename__ = "deployment_history"
    __table_args__ = (
        CheckConstraint(_one_of("actor_kind", ACTOR_KINDS), name="actor_kind"),
        Index(None, "deployment", "id"),
    )

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String(REF))
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(NAME))
    actor_kind: Mapped[str] = mapped_column(String(STATE))
    action: Mapped[str] = mapped_column(String(32))
    """started, wave-started, halted, completed, rollback, deploy (ad hoc)."""
    wave: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text, server_default="")
    revision: Mapped[str | None] = mapped_column(String(SHA))


class DeploymentSchedule(Base):
    """Projection of the applied revision's maintenance windows: per deployment and client defaults."""

    __tablename__ = "deployment_schedules"

    id: Mapped[str] = mapped_column(String(REF + 12), primary_key=True)
    """``deployment:<ref>`` or ``client:<name>``."""
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    deployment: Mapped[str | None] = mapped_column(String(REF))
    cron: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str | None] = mapped_column(String(64))
    revision: Mapped[str] = mapped_column(String(SHA))


class ProposalPlan(Base):
    """The published plan of one proposal head (a branch or a pull/merge request ref)."""

    __tablename__ = "proposal_plans"

    branch: Mapped[str] = mapped_column(String(BRANCH), primary_key=True)
    head: Mapped[str] = mapped_column(String(SHA))
    base: Mapped[str | None] = mapped_column(String(SHA))
    tree: Mapped[str] = mapped_column(String(SHA))
    """The head commit's tree: a merge that lands the same tree applies exactly this plan."""
    valid: Mapped[bool]
    markdown: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
    planned_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(_one_of("actor_kind", ACTOR_KINDS), name="actor_kind"),
        Index(None, "client", "id"),
    )

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(NAME))
    actor_kind: Mapped[str] = mapped_column(String(STATE))
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(500))
    detail: Mapped[dict[str, Any] | None]


POLICY_STATUSES = ("compliant", "non_compliant", "error", "not_applicable")
POLICY_TRIGGERS = ("schedule", "start", "bundle", "alert", "inventory", "job", "run_now")


class AutomationPolicy(Base):
    """Projection of the applied revision's Policy resources (replaced wholesale on apply)."""

    __tablename__ = "automation_policies"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    name: Mapped[str] = mapped_column(String(63))
    mode: Mapped[str] = mapped_column(String(STATE))
    every: Mapped[str] = mapped_column(String(8))
    template: Mapped[str | None] = mapped_column(String(63))
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(1024))
    revision: Mapped[str] = mapped_column(String(SHA))


class AutomationScript(Base):
    """Projection of the applied revision's Script resources: the script library the API lists."""

    __tablename__ = "automation_scripts"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    name: Mapped[str] = mapped_column(String(63))
    shell: Mapped[str] = mapped_column(String(STATE))
    category: Mapped[str] = mapped_column(String(63), index=True)
    os: Mapped[list[str]]
    description: Mapped[str] = mapped_column(Text)
    file: Mapped[str] = mapped_column(String(500))
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(1024))
    revision: Mapped[str] = mapped_column(String(SHA))


class ScriptCategory(Base):
    """The categories of the applied revision's Scripts, per scope (MSP-wide, or one client's)."""

    __tablename__ = "script_categories"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    """``category`` (MSP-wide scripts) or ``client.category`` (a client's own scripts)."""
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    name: Mapped[str] = mapped_column(String(63))
    scripts: Mapped[int] = mapped_column(Integer)
    """How many Scripts of this scope have the category."""
    os: Mapped[list[str]]
    """Every OS one of those Scripts runs on."""
    revision: Mapped[str] = mapped_column(String(SHA))


class PolicyTemplateRow(Base):
    """Projection of the applied revision's PolicyTemplate resources: the template library."""

    __tablename__ = "policy_templates"

    id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str | None] = mapped_column(String(CLIENT))
    name: Mapped[str] = mapped_column(String(63))
    category: Mapped[str] = mapped_column(String(63), index=True)
    os: Mapped[list[str]]
    description: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(1024))
    revision: Mapped[str] = mapped_column(String(SHA))


class PolicyAssignment(Base):
    """Which agents each Policy of the applied revision targets, at which policy version.

    Kept by the reconciler (the planner's targeting); the compliance roll-up counts a target
    without a result for this version as *unknown*. ``status`` copies the agent's current result
    when it is for this version, so the roll-up counts one table through its indexes (no join).
    """

    __tablename__ = "policy_assignments"
    __table_args__ = (
        CheckConstraint(_one_of("status", POLICY_STATUSES), name="status"),
        Index(None, "client", "policy_id", "status"),
        Index(None, "agent_id", "status"),
    )

    policy_id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    client: Mapped[str] = mapped_column(String(CLIENT))
    version: Mapped[str] = mapped_column(String(VERSION))
    """Empty when the policy cannot be delivered (its problem is logged)."""
    status: Mapped[str | None] = mapped_column(String(STATE))
    """``policy_compliance.status`` while that row is for ``version``; None (unknown) otherwise.
    Kept by :mod:`controller.store.policies` on both sides: results ingest and assignment writes."""


class DeviceGroupMember(Base):
    """Members of each DeviceGroup under the applied revision, for roll-ups by group."""

    __tablename__ = "device_group_members"
    __table_args__ = (Index(None, "client", "group_id"),)

    group_id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True)
    client: Mapped[str] = mapped_column(String(CLIENT))


class PolicyCompliance(Base):
    """The newest result of each policy on each agent (one row per pair, kept up to date on ingest)."""

    __tablename__ = "policy_compliance"
    __table_args__ = (
        CheckConstraint(_one_of("status", POLICY_STATUSES), name="status"),
        Index(None, "client", "policy_id", "status"),
    )

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(REF), primary_key=True)
    client: Mapped[str] = mapped_column(String(CLIENT))
    version: Mapped[str] = mapped_column(String(VERSION))
    status: Mapped[str] = mapped_column(String(STATE))
    mode: Mapped[str] = mapped_column(String(STATE))
    checked_at: Mapped[datetime]
    failing: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """The checks that are not compliant (or not applicable), with their evidence."""
    history_id: Mapped[int] = mapped_column(LogId)


class PolicyExecution(Base):
    """One run of one policy on one agent, with every check's result (capped per agent and policy)."""

    __tablename__ = "policy_execution_history"
    __table_args__ = (
        CheckConstraint(_one_of("status", POLICY_STATUSES), name="status"),
        CheckConstraint(_one_of("trigger", POLICY_TRIGGERS), name="trigger"),
        UniqueConstraint("agent_id", "result_id"),
        Index(None, "policy_id", "id"),
        Index(None, "agent_id", "policy_id", "id"),
    )

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    result_id: Mapped[str] = mapped_column(String(64))
    """The agent's id for the run: the same result sent twice is stored once."""
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(CLIENT))
    policy_id: Mapped[str] = mapped_column(String(REF))
    version: Mapped[str] = mapped_column(String(VERSION))
    status: Mapped[str] = mapped_column(String(STATE))
    mode: Mapped[str] = mapped_column(String(STATE))
    trigger: Mapped[str] = mapped_column(String(STATE))
    run_request: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    received_at: Mapped[datetime]
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class PolicyRunRequest(Base):
    """An operator's "run now" for one agent, pending until that agent reports the policy for it."""

    __tablename__ = "policy_run_requests"
    __table_args__ = (Index(None, "done_at", "agent_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(REF))
    client: Mapped[str] = mapped_column(String(CLIENT))
    requested_by: Mapped[str] = mapped_column(String(NAME))
    requested_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


agents = cast(Table, Agent.__table__)
enrollment_tokens = cast(Table, EnrollmentToken.__table__)
api_tokens = cast(Table, ApiToken.__table__)
software_inventory = cast(Table, SoftwareInventoryItem.__table__)
managed_software = cast(Table, ManagedSoftware.__table__)
jobs = cast(Table, Job.__table__)
job_events = cast(Table, JobEvent.__table__)
revisions = cast(Table, Revision.__table__)
proposal_plans = cast(Table, ProposalPlan.__table__)
hardware_inventory = cast(Table, HardwareInventory.__table__)
software_sections = cast(Table, SoftwareSection.__table__)
license_keys = cast(Table, LicenseKey.__table__)
asset_licenses = cast(Table, AssetLicense.__table__)
asset_warranties = cast(Table, AssetWarranty.__table__)
network_devices = cast(Table, NetworkDevice.__table__)
asset_history = cast(Table, AssetChange.__table__)
alerts = cast(Table, Alert.__table__)
service_requests = cast(Table, ServiceRequest.__table__)
service_request_notes = cast(Table, ServiceRequestNote.__table__)
ticket_outbox = cast(Table, TicketDelivery.__table__)
ticket_connector_polls = cast(Table, TicketConnectorPoll.__table__)
software_packages = cast(Table, SoftwarePackage.__table__)
package_deployments = cast(Table, PackageDeployment.__table__)
deployment_targets = cast(Table, DeploymentTarget.__table__)
deployment_rollouts = cast(Table, DeploymentRollout.__table__)
deployment_history = cast(Table, DeploymentHistory.__table__)
deployment_schedules = cast(Table, DeploymentSchedule.__table__)
audit_log = cast(Table, AuditEntry.__table__)
automation_policies = cast(Table, AutomationPolicy.__table__)
automation_scripts = cast(Table, AutomationScript.__table__)
script_categories = cast(Table, ScriptCategory.__table__)
policy_templates = cast(Table, PolicyTemplateRow.__table__)
policy_assignments = cast(Table, PolicyAssignment.__table__)
device_group_members = cast(Table, DeviceGroupMember.__table__)
policy_compliance = cast(Table, PolicyCompliance.__table__)
policy_execution_history = cast(Table, PolicyExecution.__table__)
policy_run_requests = cast(Table, PolicyRunRequest.__table__)
