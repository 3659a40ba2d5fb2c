"""Sealed secrets: values encrypted to the controller's public key, safe to commit.

A sealed value is ``sealed:v1:<key id>:<base64url payload>``; only the controller
holding the matching private key can open it, in memory. YAML never carries a
plaintext secret in a field typed :data:`SealedValue`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

SEALED_PREFIX = "sealed:v1:"
SEALED_PATTERN = r"^sealed:v1:[0-9a-f]{16}:[A-Za-z0-9_-]{40,}={0,2}$"

SealedValue = Annotated[
    str,
    StringConstraints(pattern=SEALED_PATTERN, max_length=16_384),
    Field(description="A value sealed with 'fleetward seal' (sealed:v1:<key id>:<payload>); "
                      "never a plaintext secret."),
]
