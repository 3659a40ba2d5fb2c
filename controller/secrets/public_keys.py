"""The controller's public sealing key as technicians handle it: a one-line text, JSON, or PEM.

Sealing needs only this key, so it can be copied anywhere. ``fleetward seal key show``
prints the line form ``x25519 <base64 key> <key id>``; ``GET /api/seal/public-key``
answers the JSON form; both (and a ``-----BEGIN PUBLIC KEY-----`` PEM) are read back by
:func:`parse_public_key` for ``fleetward seal --public-key FILE``. The key id is always
recomputed from the key, and a stated id that disagrees is refused, so a mislabelled
key cannot pass for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from controller.errors import ConfigError

ALGORITHM = "X25519-HKDF-SHA256-ChaCha20Poly1305"
"""What a sealed:v1 value is: an ephemeral X25519 agreement, HKDF-SHA256, ChaCha20-Poly1305."""
LINE_TAG = "x25519"
RAW_KEY_BYTES = 32
MAX_PUBLIC_KEY_TEXT = 8_192
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_SHOW_HINT = ("use the output of 'fleetward seal key show' (or its --format json), or GET /api/seal/public-key "
              "from the controller")


def key_id_of(public_raw: bytes) -> str:
    """The first 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def is_key_id(text: str) -> bool:
    return _KEY_ID.match(text) is not None


@dataclass(frozen=True)
class PublicSealingKey:
    """An X25519 public key and its id; all that sealing needs."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != RAW_KEY_BYTES:
            raise ConfigError(f"an X25519 public key is {RAW_KEY_BYTES} bytes, this one is {len(self.raw)}")

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    @property
    def base64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def to_cryptography(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.raw)

    def line(self) -> str:
        """``x25519 <base64> <key id>``: what ``fleetward seal key show`` prints."""
        return f"{LINE_TAG} {self.base64} {self.key_id}"

    def document(self) -> dict[str, str]:
        """The JSON form (``GET /api/seal/public-key``)."""
        return {"key_id": self.key_id, "public_key": self.base64, "algorithm": ALGORITHM}


def from_base64(text: str, *, stated_id: str | None = None, origin: str = "the public key") -> PublicSealingKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{origin} is not base64", hint=_SHOW_HINT) from None
    if len(raw) != RAW_KEY_BYTES:
        raise ConfigError(f"{origin} is {len(raw)} bytes; an X25519 public key is {RAW_KEY_BYTES}", hint=_SHOW_HINT)
    key = PublicSealingKey(raw)
    if stated_id is not None and stated_id != key.key_id:
        raise ConfigError(f"{origin} says its key id is {stated_id!r}, but the key's id is {key.key_id}",
                          hint="the id and the key were mixed up; fetch the key again")
    return key



def parse_public_key(text: str, *, origin: str = "the public key") -> PublicSealingKey:
    """A public sealing key from the line form, the JSON form or a PEM ``PUBLIC KEY``."""
    if len(text) > MAX_PUBLIC_KEY_TEXT:
        raise ConfigError(f"{origin} is over {MAX_PUBLIC_KEY_TEXT} characters; it is not a public key",
                          hint=_SHOW_HINT)
    stripped = text.strip()
    if stripped.startswith("{"):
        return _from_json(stripped, origin)
    if "-----BEGIN PUBLIC KEY-----" in stripped:
        return _from_pem(stripped, origin)
    for line in stripped.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if parts[0] != LINE_TAG or len(parts) not in (2, 3):
            break
        return from_base64(parts[1], stated_id=parts[2] if len(parts) == 3 else None, origin=origin)
    raise ConfigError(f"{origin} is not a Fleetward sealing key (expected 'x25519 <base64> <key id>', "
                      "JSON or a PEM public key)", hint=_SHOW_HINT)


def _from_json(text: str, origin: str) -> PublicSealingKey:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{origin} is not valid JSON ({error.msg} at line {error.lineno})",
                          hint=_SHOW_HINT) from None
    if not isinstance(document, dict) or not isinstance(document.get("public_key"), str):
        raise ConfigError(f"{origin} has no 'public_key' string", hint=_SHOW_HINT)
    algorithm = document.get("algorithm", ALGORITHM)
    if algorithm != ALGORITHM:
        raise ConfigError(f"{origin} is for algorithm {str(algorithm)[:80]!r}; this version seals with {ALGORITHM}",
                          hint="upgrade fleetward on this machine")
    stated = document.get("key_id")
    return from_base64(document["public_key"], stated_id=stated if isinstance(stated, str) else None,
                       origin=origin)


def _from_pem(text: str, origin: str) -> PublicSealingKey:
    try:
        loaded = serialization.load_pem_public_key(text.encode("ascii", errors="replace"))
    except (ValueError, TypeError):
        raise ConfigError(f"{origin} is not a readable PEM public key", hint=_SHOW_HINT) from None
    if not isinstance(loaded, X25519PublicKey):
        raise ConfigError(f"{origin} is a PEM public key, but not an X25519 one", hint=_SHOW_HINT)
    return PublicSealingKey(loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
