"""The optional publisher signature: Ed25519 over the 32 raw bytes of the artifact's SHA-256 digest.

Checked after the digest matched the pin and before anything runs. The pin
(reviewed YAML) already fixes the bytes; the signature adds "and the publisher
released them", so a reviewer who pasted the hash of a tampered download is
caught too.
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.errors import ArtifactError
from schemas.packages import PublisherSignature


def verify_publisher(signature: PublisherSignature, sha256_hex: str) -> None:
    """Return when ``signature`` signs the digest; raise :class:`ArtifactError` otherwise."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature.public_key))
    try:
        key.verify(base64.b64decode(signature.signature), bytes.fromhex(sha256_hex))
    except InvalidSignature:
        raise ArtifactError(
            f"the publisher signature does not match the artifact (sha256 {sha256_hex})",
            hint="the artifact is not the one the publisher signed; check the file, the key and the signature",
        ) from None
