"""Sealing keys on disk: files and modes, key ids, rotation and removal, the public key forms."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from controller.errors import ConfigError
from controller.jobs.signing import JobSigner
from controller.secrets import (
    KeyFolder,
    Keyring,
    SealedSecrets,
    UnknownSealingKey,
    open_sealed,
    parse_public_key,
    seal,
)

PLAINTEXT = "psa-api-password-5f1c"


def test_the_first_key_pair_is_a_private_file_named_by_its_id(folder):
    files = sorted(folder.path.glob("*.x25519.pem"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.path.stat().st_mode) == 0o700
    private = serialization.load_pem_private_key(files[0].read_bytes(), password=None)
    assert isinstance(private, X25519PrivateKey)
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(raw).hexdigest()[:16]
    assert folder.keyring().sealing_key.key_id == key_id
    assert files[0].name.endswith(f"-{key_id}.x25519.pem")
    assert not [p for p in folder.path.iterdir() if p.name.endswith(".tmp")]


def test_ensure_makes_no_second_key(folder):
    before = folder.keyring().ids
    assert KeyFolder(folder.path).ensure().ids == before


def test_sealing_keys_live_beside_job_signing_keys_without_mixing(folder):
    signer = JobSigner.load_or_create(folder.path)
    assert len(signer.public_keys()) == 1
    assert len(list(folder.path.glob("*.ed25519.pem"))) == 1
    assert len(folder.reload()) == 1
    assert signer.active_key_id not in folder.keyring()


def test_rotation_new_seals_use_the_new_key_and_old_seals_still_open(folder):
    old_id = folder.keyring().sealing_key.key_id
    old_seal = seal(PLAINTEXT, folder.keyring().sealing_key)
    pair = folder.rotate()
    keyring = folder.keyring()
    assert keyring.ids == [old_id, pair.key_id]
    assert keyring.sealing_key.key_id == pair.key_id != old_id
    new_seal = seal(PLAINTEXT, keyring.sealing_key)
    assert new_seal.startswith(f"sealed:v1:{pair.key_id}:")
    assert open_sealed(old_seal, keyring).reveal() == PLAINTEXT
    assert open_sealed(new_seal, keyring).reveal() == PLAINTEXT


def test_removing_the_old_key_file_closes_its_seals_without_a_restart(folder):
    old = folder.keyring().pairs[0]
    old_seal = seal(PLAINTEXT, old.public)
    folder.rotate()
    secrets = SealedSecrets(folder)
    assert secrets.open(old_seal).reveal() == PLAINTEXT
    old.path.unlink()
    with pytest.raises(UnknownSealingKey) as caught:
        secrets.open(old_seal)
    assert caught.value.key_id == old.key_id
    assert caught.value.available == [folder.keyring().sealing_key.key_id]


def test_a_key_added_by_another_process_opens_at_once(folder):
    """`fleetward seal key rotate` runs beside the controller; the running folder sees the new key."""
    running = KeyFolder(folder.path)
    secrets = SealedSecrets(running)
    assert running.keyring().ids == folder.keyring().ids
    pair = KeyFolder(folder.path).rotate()
    assert running.keyring().sealing_key.key_id == pair.key_id
    assert secrets.open(seal(PLAINTEXT, pair.public)).reveal() == PLAINTEXT


def test_order_comes_from_the_name_not_the_file_time(folder):
    first = folder.keyring().pairs[0]
    second = folder.rotate()
    os.utime(first.path, (4_000_000_000, 4_000_000_000))  # the old file looks newest (a restore, a copy)
    assert Keyring.load(folder.path).sealing_key.key_id == second.key_id


def test_rotation_stays_newest_when_the_clock_went_back(folder):
    from datetime import UTC, datetime

    pair = folder.rotate(now=datetime(2001, 1, 1, tzinfo=UTC))
    assert folder.keyring().sealing_key.key_id == pair.key_id


def test_an_unreadable_key_file_is_named_with_a_fix(folder):
    broken = folder.path / "restored.x25519.pem"
    broken.write_text("not a key")
    with pytest.raises(ConfigError) as caught:
        folder.reload()
    assert str(broken) in caught.value.message
    assert "restore it from backup, or delete it" in caught.value.hint


def test_a_signing_key_under_a_sealing_name_is_refused(folder):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    (folder.path / "wrong.x25519.pem").write_bytes(pem)
    with pytest.raises(ConfigError, match="not an X25519 key"):
        folder.reload()


def test_a_missing_folder_has_no_sealing_key(tmp_path):
    keyring = KeyFolder(tmp_path / "nowhere").keyring()
    assert len(keyring) == 0
    with pytest.raises(ConfigError, match="no sealing key") as caught:
        _ = keyring.sealing_key
    assert "fleetward seal key rotate" in caught.value.hint


def test_private_keys_are_not_shown(folder):
    pair = folder.keyring().pairs[0]
    pem = pair.path.read_text()
    body = "".join(pem.splitlines()[1:-1])
    assert body not in repr(pair)
    assert body not in repr(folder.keyring())


@pytest.mark.parametrize("form", ["line", "json", "pem"])
def test_every_public_key_form_reads_back(folder, form):
    key = folder.keyring().sealing_key
    text = {
        "line": f"# the ACME controller\n{key.line()}\n",
        "json": json.dumps(key.document()),
        "pem": key.to_cryptography().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    }[form]
    assert parse_public_key(text) == key


def test_the_line_form_is_tag_base64_id(folder):
    key = folder.keyring().sealing_key
    tag, encoded, key_id = key.line().split()
    assert (tag, key_id) == ("x25519", key.key_id)
    assert base64.b64decode(encoded) == key.raw


@pytest.mark.parametrize("text, message", [
    pytest.param("x25519 AAAA 0123456789abcdef", "is 3 bytes", id="short-key"),
    pytest.param("ssh-ed25519 AAAAC3Nza... me@host", "not a Fleetward sealing key", id="ssh-key"),
    pytest.param('{"key_id": "x"}', "no 'public_key'", id="json-without-key"),
    pytest.param("{nope", "not valid JSON", id="broken-json"),
    pytest.param("x25519 !!!! 0123456789abcdef", "not base64", id="not-base64"),
])
def test_what_is_not_a_public_key_is_refused(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_public_key(text)


def test_a_public_key_under_someone_elses_id_is_refused(folder, other_folder):
    mine, theirs = folder.keyring().sealing_key, other_folder.keyring().sealing_key
    with pytest.raises(ConfigError, match=f"says its key id is '{theirs.key_id}'"):
        parse_public_key(f"x25519 {mine.base64} {theirs.key_id}")
