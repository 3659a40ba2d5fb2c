"""Turn a stored job into the :class:`JobSpec` the agent receives (signed by the caller)."""

from __future__ import annotations

from controller.store import JobRow
from schemas.jobs import JobSpec, PackageTarget
from schemas.packages import parse_installer


def job_spec(row: JobRow) -> JobSpec:
    return JobSpec(
        job_id=row.job_id,
        agent_id=row.agent_id,
        seq=row.seq,
        issued_at=row.created_at,
        expires_at=row.expires_at,
        action=row.action,
        package=PackageTarget(
            name=row.package, version=row.version,
            installer=parse_installer(row.installer),
        ),
        previous_version=row.previous_version,
        deployment=row.deployment,
        revision=row.revision,
        not_before=row.not_before,
        not_after=row.not_after,
    )
