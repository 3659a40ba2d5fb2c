"""Deciding whether a leased job may run. Pure: no I/O, the clock is a parameter.

A :class:`SignedJob` is checked in this order, and the first failure is the
reason reported with status "refused":

1. the key id is one of the keys the agent received at enrolment;
2. the Ed25519 signature covers ``JOB_SIGNATURE_CONTEXT + payload`` exactly as
   received (checked *before* the payload is parsed, so nothing untrusted is
   interpreted);
3. the payload is a valid :class:`JobSpec` and agrees with the envelope's job
   id and seq;
4. the job is addressed to this agent;
5. (journal) a job already finished is not run again: :func:`classify` says
   "resend" and the caller re-sends the stored result;
6. the job has not expired;
7. its seq is above the highest seq this agent finished (replay protection).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from agent.errors import JobRefused
from schemas.jobs import JOB_SIGNATURE_CONTEXT, JobSpec, SignedJob
from schemas.protocol import SigningKey


class TrustedKeys:
    """The controller's job-signing keys by key id, decoded once."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for key in keys:
            try:
                raw = base64.b64decode(key.public_key, validate=True)
                self._keys[key.key_id] = Ed25519PublicKey.from_public_bytes(raw)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"signing key {key.key_id!r} is not a base64 raw Ed25519 key: {exc}") \
                    from None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def get(self, key_id: str) -> Ed25519PublicKey | None:
        return self._keys.get(key_id)


def verify_signature(job: SignedJob, keys: TrustedKeys) -> JobSpec:
    """The job's spec if the signature holds; JobRefused (with the reason) otherwise."""
    key = keys.get(job.key_id)
    if key is None:
        raise JobRefused(f"signed with unknown key id {job.key_id!r}; this agent trusts only the keys "
                         "it received at enrolment")
    try:
        signature = base64.b64decode(job.signature, validate=True)
    except (binascii.Error, ValueError):
        raise JobRefused("the signature is not valid base64") from None
    try:
        key.verify(signature, JOB_SIGNATURE_CONTEXT + job.payload.encode("utf-8"))
    except InvalidSignature:
        raise JobRefused(f"bad signature for key id {job.key_id!r}: the payload was altered or signed "
                         "by another key") from None
    try:
        spec = JobSpec.model_validate_json(job.payload)
    except ValidationError as exc:
        raise JobRefused(f"the signed payload is not a valid job ({exc.error_count()} problems, first: "
                         f"{exc.errors()[0]['msg']})") from None
    if spec.job_id != job.job_id or spec.seq != job.seq:
        raise JobRefused(f"the envelope (job {job.job_id}, seq {job.seq}) does not match the signed "
                         f"payload (job {spec.job_id}, seq {spec.seq})")
    return spec


Verdict = Literal["run", "resend", "refuse"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    spec: JobSpec | None = None


def classify(
    job: SignedJob,
    *,
    keys: TrustedKeys,
    agent_id: str,
    seen_seq: int,
    in_journal: bool,
    now: datetime,
) -> Decision:
    """What to do with one leased job; see the module docstring for the order of checks."""
    try:
        spec = verify_signature(job, keys)
    except JobRefused as refused:
        return Decision("refuse", refused.message)
    if spec.agent_id != agent_id:
        return Decision("refuse", f"the job is addressed to agent {spec.agent_id}, not to this agent "
                                  f"({agent_id})", spec)
    if in_journal:
        return Decision("resend", "finished before; re-sending the stored result", spec)
    expires_at = spec.expires_at if spec.expires_at.tzinfo else spec.expires_at.replace(tzinfo=UTC)
    if expires_at <= now:
        return Decision("refuse", f"the job expired at {expires_at.isoformat()} (agent clock: "
                                  f"{now.isoformat()})", spec)
    if spec.seq <= seen_seq:
        return Decision("refuse", f"replay: seq {spec.seq} is not above the highest finished seq "
                                  f"{seen_seq} and the job is not in the journal", spec)
    return Decision("run", "", spec)
