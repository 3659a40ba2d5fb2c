"""Receiving a policy bundle: verified before anything in it is stored or run.

A :class:`SignedPolicyBundle` is accepted only when, in this order:

1. it is not larger than :data:`MAX_BUNDLE_BYTES`;
2. its key id is one of the job-signing keys the agent received at enrolment and the Ed25519
   signature covers ``POLICY_BUNDLE_SIGNATURE_CONTEXT + payload`` exactly as received (so a job
   signature can never pass for a bundle), checked before the payload is parsed;
3. the payload is a valid :class:`PolicyBundle` addressed to this agent;
4. every script's text hashes to its SHA-256, and every script a policy names is in the bundle.

The signed form is what is stored (``policies/bundle.json``) and it is verified again when read,
so a bundle edited on disk is refused like one altered on the wire. Scripts are hash-checked once
more right before they run (:func:`agent.scripting.run_script`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from pydantic import ValidationError

from agent.errors import ConfigError, PermanentError
from agent.state import write_atomic
from agent.verifying import TrustedKeys
from schemas.protocol import (
    MAX_BUNDLE_BYTES,
    POLICY_BUNDLE_SIGNATURE_CONTEXT,
    PolicyBundle,
    SignedPolicyBundle,
)


class BundleRefused(PermanentError):
    """A policy bundle failed verification; the one held before stays in force."""


def verify_bundle(signed: SignedPolicyBundle, keys: TrustedKeys, agent_id: str) -> PolicyBundle:
    """The bundle if every check of the module docstring holds; :class:`BundleRefused` otherwise."""
    if len(signed.payload) > MAX_BUNDLE_BYTES:
        raise BundleRefused(f"the policy bundle is {len(signed.payload)} bytes, over the {MAX_BUNDLE_BYTES} cap")
    key = keys.get(signed.key_id)
    if key is None:
        raise BundleRefused(f"policy bundle signed with unknown key id {signed.key_id!r}",
                            hint="the agent trusts only the keys it received at enrolment; re-enrol after a key change")
    try:
        signature = base64.b64decode(signed.signature, validate=True)
        key.verify(signature, POLICY_BUNDLE_SIGNATURE_CONTEXT + signed.payload.encode("utf-8"))
    except (binascii.Error, ValueError, InvalidSignature):
        raise BundleRefused(f"bad policy bundle signature for key id {signed.key_id!r}: altered or signed by "
                            "another key") from None
    try:
        bundle = PolicyBundle.model_validate_json(signed.payload)
    except ValidationError as exc:
        raise BundleRefused(f"the signed policy bundle is not valid ({exc.error_count()} problems, first: "
                            f"{exc.errors()[0]['msg']})") from None
    if bundle.agent_id != agent_id:
        raise BundleRefused(f"the policy bundle is for agent {bundle.agent_id}, not this agent ({agent_id})")
    refs = set()
    for script in bundle.scripts:
        actual = hashlib.sha256(script.text.encode("utf-8")).hexdigest()
        if not hmac.compare_digest(actual, script.sha256):
            raise BundleRefused(f"script {script.ref} in the policy bundle hashes to {actual}, not the signed "
                                f"{script.sha256}")
        refs.add(script.ref)
    for policy in bundle.policies:
        missing = sorted(set(policy.scripts.values()) - refs)
        if missing:
            raise BundleRefused(f"policy {policy.id} uses scripts {', '.join(missing)} the bundle does not carry")
    return bundle


class BundleStore:
    """The verified bundle held in ``folder/bundle.json`` (in its signed form)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "bundle.json"

    def save(self, signed: SignedPolicyBundle) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, signed.model_dump_json().encode(), mode=0o600)

    def load(self, keys: TrustedKeys, agent_id: str) -> PolicyBundle | None:
        """The held bundle, verified again; None when there is none (or it no longer verifies)."""
        if not self.path.is_file():
            return None
        try:
            raw = self.path.read_bytes()
            if len(raw) > MAX_BUNDLE_BYTES * 2:
                raise ConfigError(f"{self.path}: larger than a policy bundle can be")
            return verify_bundle(SignedPolicyBundle.model_validate_json(raw), keys, agent_id)
        except (OSError, ValidationError, ConfigError, BundleRefused):
            return None
