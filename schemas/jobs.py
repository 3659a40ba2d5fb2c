"""The job an agent executes, and the envelope that carries its signature.

The controller serialises a :class:`JobSpec` with :func:`canonical_json`, signs
``JOB_SIGNATURE_CONTEXT + payload`` with its Ed25519 key and sends
:class:`SignedJob`. The agent verifies the signature over the exact payload
bytes it received before parsing them, so there is no canonicalisation step
on the verifying side to get wrong.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.packages import Installer

JOB_SIGNATURE_CONTEXT = b"fleetward-job-v1\n"
"""Prefix of every signed message, so a job signature can never be mistaken for another."""

JobAction = Literal["install", "upgrade", "uninstall"]


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the form that is signed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackageTarget(WireModel):
    name: str
    version: str
    installer: Installer


class JobSpec(WireModel):
    """What the agent is asked to do. Signed; every field is covered by the signature."""

    job_id: str
    agent_id: str
    seq: int = Field(ge=1, description="Per-agent, strictly increasing: a replay has an old seq.")
    issued_at: datetime
    expires_at: datetime
    kind: Literal["package"] = "package"
    action: JobAction
    package: PackageTarget
    previous_version: str | None = Field(
        default=None, description="For upgrades and uninstalls: the version the agent reported."
    )
    deployment: str = Field(description="Deployment id: 'name' (MSP-wide) or 'client.name'.")
    revision: str = Field(description="Commit the job was planned from.")
    not_before: datetime | None = Field(
        default=None, description="Maintenance window start: the agent may download before it but installs "
                                  "only from then on (by its own clock).")
    not_after: datetime | None = Field(
        default=None, description="Maintenance window end: the agent does not start the install after it.")


class SignedJob(WireModel):
    job_id: str
    seq: int
    key_id: str
    payload: str = Field(description="canonical_json(JobSpec); the bytes that were signed.")
    signature: str = Field(description="Base64 Ed25519 signature.")
