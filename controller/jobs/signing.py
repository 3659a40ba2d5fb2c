"""The controller's Ed25519 job-signing keys.

Keys live in ``<data dir>/keys/`` as PKCS#8 PEM files (mode 0600), one per key,
named by key id (the first 16 hex digits of the SHA-256 of the raw public key).
The newest key signs; every key in the folder is offered to agents at enrolment
so a rotation can overlap. The private key never leaves this module's objects.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.errors import ConfigError
from schemas.jobs import JOB_SIGNATURE_CONTEXT, JobSpec, SignedJob, canonical_json
from schemas.protocol import SigningKey

KEY_SUFFIX = ".ed25519.pem"


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class _Key:
    key_id: str
    private: Ed25519PrivateKey
    created: float

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


class JobSigner:
    """Signs jobs with the active key; lists the public keys agents should trust."""

    def __init__(self, keys: list[_Key]) -> None:
        if not keys:
            raise ConfigError("no job-signing key", hint="JobSigner.load_or_create makes one")
        self._keys = sorted(keys, key=lambda k: (k.created, k.key_id))
        self._active = self._keys[-1]

    @classmethod
    def load_or_create(cls, key_dir: Path) -> JobSigner:
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = [_read_key(path) for path in sorted(key_dir.glob(f"*{KEY_SUFFIX}"))]
        if not keys:
            keys = [_create_key(key_dir)]
        return cls(keys)

    @classmethod
    def rotate(cls, key_dir: Path) -> JobSigner:
        """Add a new key that signs from now on; older keys stay trusted until deleted."""
        _create_key(key_dir)
        return cls.load_or_create(key_dir)

    @property
    def active_key_id(self) -> str:
        return self._active.key_id

    def public_keys(self) -> list[SigningKey]:
        return [
            SigningKey(key_id=key.key_id, public_key=base64.b64encode(key.public_raw).decode())
            for key in self._keys
        ]

    def sign(self, spec: JobSpec) -> SignedJob:
        payload = canonical_json(spec.model_dump(mode="json"))
        signature = self._active.private.sign(JOB_SIGNATURE_CONTEXT + payload.encode("utf-8"))
        return SignedJob(
            job_id=spec.job_id, seq=spec.seq, key_id=self._active.key_id, payload=payload,
            signature=base64.b64encode(signature).decode(),
        )


    def sign_payload(self, context: bytes, payload: str) -> tuple[str, str]:
        """(key id, base64 signature) over ``context + payload``: for signed documents other than jobs
        (policy bundles), each with its own context so no signature passes for another kind."""
        signature = self._active.private.sign(context + payload.encode("utf-8"))
        return self._active.key_id, base64.b64encode(signature).decode()


def _read_key(path: Path) -> _Key:
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable Ed25519 private key ({exc})",
                          hint="restore it from backup or delete it to stop trusting it") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 key", hint="job-signing keys must be Ed25519")
    public_raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _Key(key_id=key_id_of(public_raw), private=private, created=path.stat().st_mtime)


def _create_key(key_dir: Path) -> _Key:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = key_id_of(public_raw)
    path = key_dir / f"{key_id}{KEY_SUFFIX}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return _Key(key_id=key_id, private=private, created=path.stat().st_mtime)
