"""Seal a value to a public key; open a sealed value with the controller's keyring.

The format (``schemas.secrets`` fixes the outside)::

    sealed:v1:<key id>:<base64url payload, unpadded>
    payload = ephemeral X25519 public key (32) || nonce (12) || ChaCha20-Poly1305 ciphertext+tag

The AEAD key is HKDF-SHA256 over the X25519 shared secret, with both public keys (the
ephemeral one and the recipient's) in the HKDF info, so a payload cannot be re-pointed at
another key. The associated data is ``sealed:v1:<key id>``: editing the key id in the
text breaks the tag. Every seal uses a fresh ephemeral key, so sealing the same value
twice gives two different strings, and nothing about the plaintext but its length shows.

Sealing needs only the public key (technicians seal without the controller); opening
needs the private key of the id named in the value.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from controller.errors import ConfigError
from controller.secrets.errors import SealedValueCorrupt, UnknownSealingKey
from controller.secrets.keyring import Keyring
from controller.secrets.public_keys import RAW_KEY_BYTES, PublicSealingKey, is_key_id
from controller.secrets.values import Secret
from schemas.secrets import SEALED_PREFIX

NONCE_BYTES = 12
TAG_BYTES = 16
MAX_SEALED_CHARS = 16_384
"""The longest sealed value a SealedValue field accepts (schemas.secrets)."""
MAX_PLAINTEXT_BYTES = 12_000
"""The longest value that still fits in MAX_SEALED_CHARS once sealed (about 12,200 bytes), rounded down."""
_HKDF_INFO = b"fleetward sealed:v1 X25519-HKDF-SHA256-ChaCha20Poly1305"
_MIN_PAYLOAD = RAW_KEY_BYTES + NONCE_BYTES + TAG_BYTES


def seal(plaintext: str, public_key: PublicSealingKey) -> str:
    """``plaintext`` sealed to ``public_key``; refuses an empty or over-long value."""
    data = plaintext.encode("utf-8")
    if not data:
        raise ConfigError("nothing to seal: the value is empty")
    if len(data) > MAX_PLAINTEXT_BYTES:
        raise ConfigError(f"the value is {len(data)} bytes; at most {MAX_PLAINTEXT_BYTES} can be sealed",
                          hint="keep large credentials (certificates, key files) out of the fleet repository")
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)
    shared = ephemeral.exchange(public_key.to_cryptography())
    key = _derive(shared, ephemeral_raw, public_key.raw)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ChaCha20Poly1305(key).encrypt(nonce, data, _associated(public_key.key_id))
    payload = base64.urlsafe_b64encode(ephemeral_raw + nonce + ciphertext).rstrip(b"=").decode("ascii")
    return f"{SEALED_PREFIX}{public_key.key_id}:{payload}"


def sealed_key_id(value: str) -> str:
    """The key id a sealed value names; raises SealedValueCorrupt when ``value`` is not one."""
    return _split(value)[0]


def open_sealed(value: str, keyring: Keyring) -> Secret:
    """The plaintext of ``value`` as a :class:`Secret`.

    Raises :class:`UnknownSealingKey` (naming the value's key id and the keyring's) when the
    value was sealed to a key the keyring does not hold, :class:`SealedValueCorrupt` when it
    is not a sealed value or was changed after sealing. Neither quotes the value.
    """
    key_id, payload = _split(value)
    private = keyring.private_key(key_id)
    if private is None:
        raise UnknownSealingKey(key_id, keyring.ids)
    ephemeral_raw = payload[:RAW_KEY_BYTES]
    nonce = payload[RAW_KEY_BYTES:RAW_KEY_BYTES + NONCE_BYTES]
    ciphertext = payload[RAW_KEY_BYTES + NONCE_BYTES:]
    recipient_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
    except ValueError:  # an all-zero (low-order) ephemeral key: never made by seal()
        raise SealedValueCorrupt("was changed after sealing (its ephemeral key is invalid)") from None
    try:
        data = ChaCha20Poly1305(_derive(shared, ephemeral_raw, recipient_raw)).decrypt(
            nonce, ciphertext, _associated(key_id))
    except InvalidTag:
        raise SealedValueCorrupt("was changed after sealing, or cut short (it failed authentication)") from None
    try:
        return Secret(data.decode("utf-8"), key_id=key_id)
    except UnicodeDecodeError:
        raise SealedValueCorrupt("does not hold text (it was not made by 'fleetward seal')") from None


def _split(value: str) -> tuple[str, bytes]:
    if not isinstance(value, str):
        raise SealedValueCorrupt("is not text")
    if len(value) > MAX_SEALED_CHARS:
        raise SealedValueCorrupt(f"is over {MAX_SEALED_CHARS} characters long")
    if not value.startswith(SEALED_PREFIX):
        if value.startswith("sealed:"):
            raise SealedValueCorrupt("uses a format this controller does not know (it reads sealed:v1:)")
        raise SealedValueCorrupt(f"does not start with {SEALED_PREFIX!r}: it is not a sealed value "
                                 "(was a plaintext secret pasted here?)")
    key_id, colon, encoded = value[len(SEALED_PREFIX):].partition(":")
    if not colon or not is_key_id(key_id):
        raise SealedValueCorrupt("has no key id (16 hex digits) after 'sealed:v1:'")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise SealedValueCorrupt("is not valid base64url after its key id") from None
    if base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii") != encoded.rstrip("="):
        raise SealedValueCorrupt("is not valid base64url after its key id")
    if len(payload) <= _MIN_PAYLOAD:
        raise SealedValueCorrupt("is too short to hold anything (was it cut short?)")
    return key_id, payload


def _derive(shared: bytes, ephemeral_raw: bytes, recipient_raw: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_HKDF_INFO + ephemeral_raw + recipient_raw).derive(shared)


def _associated(key_id: str) -> bytes:
    return f"{SEALED_PREFIX}{key_id}".encode("ascii")
