"""``fleetward seal`` and ``fleetward seal key show|rotate``, run as real processes."""

from __future__ import annotations

import json
import re

import pytest

from controller.secrets import KeyFolder, open_sealed
from schemas.secrets import SEALED_PATTERN
from tests.secrets.commands import fleetward

PLAINTEXT = "ninja-rmm-client-secret-41d9"


def _sealed_line(done) -> str:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return lines[0]


def test_seal_with_the_data_dir_prints_only_the_sealed_string(tmp_path):
    data = tmp_path / "data"
    done = fleetward("seal", "--data-dir", str(data), stdin=PLAINTEXT)
    sealed = _sealed_line(done)
    assert done.stdout == sealed + "\n"
    assert done.stderr == ""
    assert PLAINTEXT not in done.stdout + done.stderr
    assert re.match(SEALED_PATTERN, sealed)
    assert open_sealed(sealed, KeyFolder(data / "keys").keyring()).reveal() == PLAINTEXT


def test_the_default_data_dir_comes_from_the_environment(tmp_path):
    done = fleetward("seal", stdin=PLAINTEXT, home=tmp_path / "env-data")
    sealed = _sealed_line(done)
    assert open_sealed(sealed, KeyFolder(tmp_path / "env-data" / "keys").keyring()).reveal() == PLAINTEXT


@pytest.mark.parametrize("given, kept", [
    pytest.param(PLAINTEXT + "\n", PLAINTEXT, id="lf"),
    pytest.param(PLAINTEXT + "\r\n", PLAINTEXT, id="crlf"),
    pytest.param(PLAINTEXT + "\n\n", PLAINTEXT + "\n", id="only-one-is-stripped"),
])
def test_a_trailing_newline_is_stripped_with_a_warning(tmp_path, given, kept):
    data = tmp_path / "data"
    done = fleetward("seal", "--data-dir", str(data), stdin=given)
    sealed = _sealed_line(done)
    assert "warning: removed the trailing newline" in done.stderr
    assert "--keep-newline" in done.stderr
    assert PLAINTEXT not in done.stderr
    assert open_sealed(sealed, KeyFolder(data / "keys").keyring()).reveal() == kept


def test_keep_newline_seals_the_value_as_given(tmp_path):
    data = tmp_path / "data"
    done = fleetward("seal", "--data-dir", str(data), "--keep-newline", stdin=PLAINTEXT + "\n")
    sealed = _sealed_line(done)
    assert done.stderr == ""
    assert open_sealed(sealed, KeyFolder(data / "keys").keyring()).reveal() == PLAINTEXT + "\n"


@pytest.mark.parametrize("given", [pytest.param("", id="empty"), pytest.param("\n", id="just-a-newline")])
def test_an_empty_value_is_refused(tmp_path, given):
    done = fleetward("seal", "--data-dir", str(tmp_path / "data"), stdin=given)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: nothing to seal: the value is empty" in done.stderr


def test_too_long_and_binary_values_are_refused(tmp_path):
    too_long = fleetward("seal", "--data-dir", str(tmp_path / "data"), stdin="x" * 20_000)
    assert too_long.returncode == 2 and too_long.stdout == ""
    assert "more than can be sealed" in too_long.stderr
    binary = fleetward("seal", "--data-dir", str(tmp_path / "data"), stdin=b"\xff\xfe\x00secret")
    assert binary.returncode == 2 and binary.stdout == ""
    assert "not UTF-8 text" in binary.stderr


def test_from_file(tmp_path):
    data = tmp_path / "data"
    source = tmp_path / "psa-password.txt"
    source.write_text(PLAINTEXT + "\n")
    done = fleetward("seal", "--data-dir", str(data), "--from-file", str(source))
    sealed = _sealed_line(done)
    assert "removed the trailing newline" in done.stderr
    assert open_sealed(sealed, KeyFolder(data / "keys").keyring()).reveal() == PLAINTEXT
    missing = fleetward("seal", "--data-dir", str(data), "--from-file", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2
    assert "cannot read --from-file" in missing.stderr


@pytest.mark.parametrize("form", ["text", "json"])
def test_a_technician_seals_with_the_public_key_file_alone(tmp_path, form):
    data = tmp_path / "controller"
    shown = fleetward("seal", "key", "show", "--data-dir", str(data), "--format", form)
    assert shown.returncode == 0, shown.stderr
    public_file = tmp_path / "laptop" / "controller.pub"
    public_file.parent.mkdir()
    public_file.write_text(shown.stdout)
    assert "PRIVATE" not in shown.stdout
    done = fleetward("seal", "--public-key", str(public_file), stdin=PLAINTEXT, home=tmp_path / "laptop" / "none")
    sealed = _sealed_line(done)
    assert not (tmp_path / "laptop" / "none").exists()
    assert open_sealed(sealed, KeyFolder(data / "keys").keyring()).reveal() == PLAINTEXT


def test_key_show_prints_the_sealing_key_and_json(tmp_path):
    data = tmp_path / "data"
    text = fleetward("seal", "key", "show", "--data-dir", str(data))
    keyring = KeyFolder(data / "keys").keyring()
    assert text.stdout == keyring.sealing_key.line() + "\n"
    document = json.loads(fleetward("seal", "key", "show", "--data-dir", str(data), "--format", "json").stdout)
    assert document == keyring.sealing_key.document()
    assert document["algorithm"] == "X25519-HKDF-SHA256-ChaCha20Poly1305"


def test_key_rotate_makes_the_new_key_seal_and_keeps_the_old_one_opening(tmp_path):
    data = tmp_path / "data"
    old = _sealed_line(fleetward("seal", "--data-dir", str(data), stdin="old value"))
    rotated = fleetward("seal", "key", "rotate", "--data-dir", str(data))
    assert rotated.returncode == 0, rotated.stderr
    keyring = KeyFolder(data / "keys").keyring()
    old_id, new_id = keyring.ids
    assert rotated.stdout == keyring.sealing_key.line() + "\n"
    assert f"values sealed to {old_id} keep opening" in rotated.stderr
    new = _sealed_line(fleetward("seal", "--data-dir", str(data), stdin="new value"))
    assert new.startswith(f"sealed:v1:{new_id}:") and old.startswith(f"sealed:v1:{old_id}:")
    assert open_sealed(old, keyring).reveal() == "old value"
    assert open_sealed(new, keyring).reveal() == "new value"
    listing = fleetward("seal", "key", "show", "--all", "--data-dir", str(data))
    assert [line.split()[2] for line in listing.stdout.splitlines()] == [old_id, new_id]


def test_a_pinned_key_id_that_does_not_match_seals_nothing(tmp_path):
    done = fleetward("seal", "--data-dir", str(tmp_path / "data"), "--key-id", "0123456789abcdef", stdin=PLAINTEXT)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "not 0123456789abcdef" in done.stderr


def test_only_one_key_source_at_a_time(tmp_path):
    done = fleetward("seal", "--data-dir", str(tmp_path), "--server", "http://127.0.0.1:9", stdin=PLAINTEXT)
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr


def test_plain_http_to_another_host_is_refused_before_connecting(tmp_path):
    done = fleetward("seal", "--server", "http://fleet.example.com", stdin=PLAINTEXT)
    assert done.returncode == 2
    assert "plain http" in done.stderr
    assert "use https" in done.stderr


def test_an_unreachable_server_is_a_temporary_error(tmp_path):
    done = fleetward("seal", "--server", "http://127.0.0.1:9", stdin=PLAINTEXT)
    assert done.returncode == 3
    assert "cannot reach http://127.0.0.1:9" in done.stderr
    assert PLAINTEXT not in done.stderr
