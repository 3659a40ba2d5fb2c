"""Sealed secrets: values encrypted to the controller's public key, so YAML carries only ciphertext.

A technician seals a value (``fleetward seal``) with the controller's public key and
commits ``sealed:v1:<key id>:<payload>`` in a field typed ``SealedValue`` (licence keys,
the webhook secret, PSA and warranty credentials). The controller opens it in memory,
where it is used, as a :class:`Secret` that never shows itself.

The parts, each its own module:

* ``public_keys``: the public half as people copy it (line, JSON, PEM) and key ids;
* ``keyring``: the X25519 key files in ``<data dir>/keys/``, rotation, the live folder;
* ``sealing``: :func:`seal` and :func:`open_sealed`, the sealed:v1 format;
* ``values``: :class:`Secret`;
* ``opening``: :class:`SealedSecrets`, opening with a small cache;
* ``walking``: finding every sealed field of a desired state and opening one on demand;
* ``errors``: why a value could not be opened.
"""

from __future__ import annotations

from controller.secrets.errors import SealedValueCorrupt, SealedValueError, UnknownSealingKey
from controller.secrets.keyring import KEY_SUFFIX, KeyFolder, Keyring, SealingKeyPair, create_key_pair
from controller.secrets.opening import SealedSecrets
from controller.secrets.public_keys import ALGORITHM, PublicSealingKey, key_id_of, parse_public_key
from controller.secrets.sealing import MAX_PLAINTEXT_BYTES, open_sealed, seal, sealed_key_id
from controller.secrets.values import MASK, Secret
from controller.secrets.walking import SealedField, check_sealed, find_sealed, require_openable

__all__ = [
    "ALGORITHM",
    "KEY_SUFFIX",
    "MASK",
    "MAX_PLAINTEXT_BYTES",
    "KeyFolder",
    "Keyring",
    "PublicSealingKey",
    "SealedField",
    "SealedSecrets",
    "SealedValueCorrupt",
    "SealedValueError",
    "SealingKeyPair",
    "Secret",
    "UnknownSealingKey",
    "check_sealed",
    "create_key_pair",
    "find_sealed",
    "key_id_of",
    "open_sealed",
    "parse_public_key",
    "require_openable",
    "seal",
    "sealed_key_id",
]
