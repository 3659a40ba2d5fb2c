"""Sealing and opening: round trips, the sealed:v1 format, and every way a value can fail to open."""

from __future__ import annotations

import base64
import re

import pytest
from pydantic import ValidationError

from controller.errors import ConfigError
from controller.secrets import (
    MAX_PLAINTEXT_BYTES,
    Keyring,
    SealedValueCorrupt,
    UnknownSealingKey,
    open_sealed,
    seal,
    sealed_key_id,
)
from schemas.licenses import LicenseSpec
from schemas.secrets import SEALED_PATTERN

PLAINTEXT = "XKCD-936-correct-horse-battery-staple"


@pytest.mark.parametrize("plaintext", [
    pytest.param("a", id="one-character"),
    pytest.param(PLAINTEXT, id="licence-key"),
    pytest.param("pässwörd 🔑 with spaces\tand tabs", id="unicode"),
    pytest.param("line one\nline two\n", id="multi-line"),
    pytest.param("x" * MAX_PLAINTEXT_BYTES, id="largest"),
])
def test_a_sealed_value_opens_to_what_was_sealed(folder, plaintext):
    keyring = folder.keyring()
    sealed = seal(plaintext, keyring.sealing_key)
    assert re.match(SEALED_PATTERN, sealed), sealed[:60]
    assert sealed.startswith(f"sealed:v1:{keyring.sealing_key.key_id}:")
    assert len(plaintext) < 8 or plaintext not in sealed
    secret = open_sealed(sealed, keyring)
    assert secret.reveal() == plaintext
    assert secret.key_id == keyring.sealing_key.key_id


def test_the_largest_value_fits_a_sealed_value_field(folder):
    sealed = seal("x" * MAX_PLAINTEXT_BYTES, folder.keyring().sealing_key)
    spec = LicenseSpec(product="Office", seats=5, key=sealed)
    assert spec.key == sealed


def test_a_plaintext_secret_is_not_a_sealed_value_in_yaml():
    with pytest.raises(ValidationError):
        LicenseSpec(product="Office", seats=5, key=PLAINTEXT)


def test_sealing_twice_gives_different_strings_that_both_open(folder):
    keyring = folder.keyring()
    first, second = seal(PLAINTEXT, keyring.sealing_key), seal(PLAINTEXT, keyring.sealing_key)
    assert first != second
    assert open_sealed(first, keyring) == open_sealed(second, keyring)


def test_sealing_needs_only_the_public_key(folder):
    public_only = folder.keyring().sealing_key
    sealed = seal(PLAINTEXT, public_only)
    assert open_sealed(sealed, folder.keyring()).reveal() == PLAINTEXT


@pytest.mark.parametrize("plaintext, message", [
    pytest.param("", "nothing to seal", id="empty"),
    pytest.param("x" * (MAX_PLAINTEXT_BYTES + 1), f"at most {MAX_PLAINTEXT_BYTES}", id="too-long"),
])
def test_sealing_refuses(folder, plaintext, message):
    with pytest.raises(ConfigError, match=message):
        seal(plaintext, folder.keyring().sealing_key)


def test_a_value_sealed_to_another_controller_names_both_key_ids(folder, other_folder):
    sealed = seal(PLAINTEXT, other_folder.keyring().sealing_key)
    with pytest.raises(UnknownSealingKey) as caught:
        open_sealed(sealed, folder.keyring())
    error = caught.value
    other_id, own_id = other_folder.keyring().sealing_key.key_id, folder.keyring().sealing_key.key_id
    assert error.key_id == other_id
    assert error.available == [own_id]
    assert f"sealed to key {other_id}" in error.message
    assert own_id in error.message
    assert "fleetward seal" in error.hint
    assert PLAINTEXT not in str(error)
    assert sealed_key_id(sealed) == other_id


def test_an_empty_keyring_says_it_has_no_keys(folder):
    sealed = seal(PLAINTEXT, folder.keyring().sealing_key)
    with pytest.raises(UnknownSealingKey, match=r"its sealing keys: none"):
        open_sealed(sealed, Keyring())


def _tamper(sealed: str, index: int) -> str:
    """Flip one bit of the decoded payload at ``index`` (negative: from the end)."""
    head, _, encoded = sealed.rpartition(":")
    payload = bytearray(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    payload[index] ^= 0x01
    return f"{head}:{base64.urlsafe_b64encode(bytes(payload)).rstrip(b'=').decode()}"


@pytest.mark.parametrize("index", [
    pytest.param(0, id="ephemeral-key"),
    pytest.param(33, id="nonce"),
    pytest.param(45, id="ciphertext"),
    pytest.param(-1, id="tag"),
])
def test_a_changed_payload_is_refused_without_a_trace_of_the_plaintext(folder, index):
    keyring = folder.keyring()
    tampered = _tamper(seal(PLAINTEXT, keyring.sealing_key), index)
    with pytest.raises(SealedValueCorrupt) as caught:
        open_sealed(tampered, keyring)
    assert "changed after sealing" in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert PLAINTEXT not in str(caught.value)


def test_the_key_id_is_bound_to_the_ciphertext(folder):
    """Relabelling a value with another key id the controller holds does not open it."""
    old = folder.keyring().sealing_key
    folder.rotate()
    new = folder.keyring().sealing_key
    sealed = seal(PLAINTEXT, old)
    relabelled = sealed.replace(old.key_id, new.key_id)
    with pytest.raises(SealedValueCorrupt, match="changed after sealing"):
        open_sealed(relabelled, folder.keyring())


@pytest.mark.parametrize("value, reason", [
    pytest.param(PLAINTEXT, "not a sealed value", id="plaintext-pasted"),
    pytest.param("sealed:v2:0123456789abcdef:" + "A" * 80, "format this controller does not know", id="future"),
    pytest.param("sealed:v1:XYZ:" + "A" * 80, "no key id", id="bad-key-id"),
    pytest.param("sealed:v1:0123456789abcdef:" + "A" * 40 + "*" + "A" * 40, "not valid base64url", id="alphabet"),
    pytest.param("sealed:v1:0123456789abcdef:" + "A" * 40, "too short", id="truncated"),
    pytest.param("sealed:v1:0123456789abcdef:" + "A" * 20_000, "over 16384", id="huge"),
])
def test_what_is_not_a_sealed_value_is_refused_clearly(folder, value, reason):
    with pytest.raises(SealedValueCorrupt, match=reason) as caught:
        open_sealed(value, folder.keyring())
    assert value not in str(caught.value)
    assert "fleetward seal" in caught.value.hint


def test_a_cut_short_value_is_refused(folder):
    keyring = folder.keyring()
    sealed = seal(PLAINTEXT, keyring.sealing_key)
    with pytest.raises(SealedValueCorrupt):
        open_sealed(sealed[:-4], keyring)
