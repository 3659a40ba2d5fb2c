"""The controller's SQL store: observed state, jobs, history, and the applied revision's projection.

SQLAlchemy 2 over SQLite (the embedded default, ``<data dir>/fleetward.db``) or
PostgreSQL, schema by the Alembic migrations in ``migrations/``. Desired state is
never edited here (git is its only source). Every function that serves a request
takes the caller's client scope (``client``: a client name, or None for MSP-wide)
and filters by it; queries are set-based, never one per device.

Modules: ``engine`` (Store, upgrade, errors), ``tables`` (the ORM models), ``tokens``
and ``agents`` (identities), ``inventory``, ``jobs``/``issuing``/``leasing``/
``reporting`` (the job life cycle), ``observed`` (the planner's input), ``revisions``
and ``projection``, ``outcomes`` (per-device status), ``audit``.
"""

from controller.store.agents import (
    AgentPrincipal,
    AgentPublic,
    CheckinState,
    EnrolledAgent,
    agent_ids_of_clients,
    authenticate_agent,
    checkin,
    device_labels,
    enroll_agent,
    get_agent,
    list_agents,
    revoke_agent,
)
from controller.store.alerts import (
    AlertRow,
    clear_alert,
    clear_alerts_except,
    get_alert,
    list_alerts,
    raise_alert,
)
from controller.store.assets import (
    HardwareRecord,
    HistoryRecord,
    InvalidQuery,
    LicenseKeyRecord,
    NetworkDeviceRecord,
    SoftwareMatch,
    SoftwarePage,
    get_hardware,
    list_device_license_keys,
    list_device_software,
    list_history,
    list_network_devices,
    sealed_license_key,
    search_software,
)
from controller.store.audit import AuditRecord, list_audit, record_audit
from controller.store.engine import Store, store_errors, upgrade
from controller.store.inventory import (
    InstalledSoftware,
    InventoryUpload,
    ManagedPackage,
    ingest_inventories,
    ingest_inventory,
    list_managed,
    list_software,
)
from controller.store.issuing import issue_jobs
from controller.store.jobs import (
    JobEventPublic,
    JobPublic,
    JobRow,
    get_job,
    jobs_for_agent,
    jobs_for_deployment,
    latest_jobs,
    list_job_events,
)
from controller.store.leasing import Lease, expire_jobs, lease_jobs, requeue_stale_leases
from controller.store.observed import read_observed
from controller.store.outcomes import (
    DeploymentSummary,
    DeploymentTargetRow,
    OutcomeChanges,
    deployment_status,
    deployment_summaries,
    device_targets,
    write_outcomes,
)
from controller.store.projection import (
    DeploymentRecord,
    PackageRecord,
    get_deployment,
    list_deployments,
    list_packages,
)
from controller.store.proposals import (
    ProposalPlanRow,
    forget_proposal_plans,
    get_proposal_plan,
    list_proposal_plans,
    plan_for_tree,
    save_proposal_plan,
)
from controller.store.reporting import record_job_event
from controller.store.revisions import (
    CommitDetails,
    RevisionRow,
    last_applied,
    list_revisions,
    note_applied_plan,
    record_applied,
    record_rejected,
)
from controller.store.tokens import (
    ApiPrincipal,
    TokenInfo,
    authenticate_api_token,
    create_api_token,
    create_enrollment_token,
    list_tokens,
    revoke_token,
)

__all__ = [
    "AgentPrincipal",
    "AgentPublic",
    "AlertRow",
    "ApiPrincipal",
    "AuditRecord",
    "CheckinState",
    "CommitDetails",
    "DeploymentRecord",
    "DeploymentSummary",
    "DeploymentTargetRow",
    "EnrolledAgent",
    "HardwareRecord",
    "HistoryRecord",
    "InstalledSoftware",
    "InvalidQuery",
    "InventoryUpload",
    "JobEventPublic",
    "JobPublic",
    "JobRow",
    "Lease",
    "LicenseKeyRecord",
    "ManagedPackage",
    "NetworkDeviceRecord",
    "OutcomeChanges",
    "PackageRecord",
    "ProposalPlanRow",
    "RevisionRow",
    "SoftwareMatch",
    "SoftwarePage",
    "Store",
    "TokenInfo",
    "agent_ids_of_clients",
    "authenticate_agent",
    "authenticate_api_token",
    "checkin",
    "clear_alert",
    "clear_alerts_except",
    "create_api_token",
    "create_enrollment_token",
    "deployment_status",
    "deployment_summaries",
    "device_labels",
    "device_targets",
    "enroll_agent",
    "expire_jobs",
    "forget_proposal_plans",
    "get_agent",
    "get_alert",
    "get_deployment",
    "get_hardware",
    "get_job",
    "get_proposal_plan",
    "ingest_inventories",
    "ingest_inventory",
    "issue_jobs",
    "jobs_for_agent",
    "jobs_for_deployment",
    "last_applied",
    "latest_jobs",
    "lease_jobs",
    "list_agents",
    "list_alerts",
    "list_audit",
    "list_deployments",
    "list_device_license_keys",
    "list_device_software",
    "list_history",
    "list_job_events",
    "list_managed",
    "list_network_devices",
    "list_packages",
    "list_proposal_plans",
    "list_revisions",
    "list_software",
    "list_tokens",
    "note_applied_plan",
    "plan_for_tree",
    "raise_alert",
    "read_observed",
    "record_applied",
    "record_audit",
    "record_job_event",
    "record_rejected",
    "requeue_stale_leases",
    "revoke_agent",
    "revoke_token",
    "save_proposal_plan",
    "sealed_license_key",
    "search_software",
    "store_errors",
    "upgrade",
    "write_outcomes",
]
