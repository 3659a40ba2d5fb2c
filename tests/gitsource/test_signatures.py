"""Signed commits: real commits signed with keys ssh-keygen and gpg make here, checked in the mirror."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.errors import ConfigError, NotFound
from controller.gitsource.signatures import MAX_COMMIT_BYTES, ssh_allowed_signers, verify_commit
from schemas.fleet import Signer
from tests.support.gitrepos import write_files

# --------------------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class SshKey:
    private: Path
    public: str
    fingerprint: str


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SshKey]:
    folder = tmp_path_factory.mktemp("ssh")
    keys = {}
    for name in ("alice", "bob", "mallory"):
        private = folder / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@msp.example",
                        "-f", str(private)], check=True, capture_output=True)
        listed = subprocess.run(["ssh-keygen", "-l", "-f", f"{private}.pub"], check=True,
                                capture_output=True, text=True).stdout
        keys[name] = SshKey(private, Path(f"{private}.pub").read_text().strip(), listed.split()[1])
    return keys


def ssh_signer(name: str, key: SshKey) -> Signer:
    return Signer(name=name, ssh=key.public)


@dataclass(frozen=True)
class Gpg:
    signing_home: Path
    """Holds the secret keys, as a technician's laptop would."""
    keyring: Path
    """The controller's keyring: public keys of alice and mallory only."""
    fingerprints: dict[str, str]


@pytest.fixture(scope="module")
def gpg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gpg]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed here, so GPG-signed commits cannot be made")
    folder = tmp_path_factory.mktemp("gpg")
    signing, keyring = folder / "sign", folder / "ring"
    signing.mkdir(mode=0o700)
    keyring.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(signing)}
    try:
        fingerprints = {}
        for name in ("alice", "mallory", "carol"):
            made = subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                                   f"{name} <{name}@msp.example>", "ed25519", "sign", "never"],
                                  env=env, capture_output=True, text=True)
            if made.returncode != 0:
                pytest.skip(f"gpg cannot make an ed25519 key here: {made.stderr.strip()[-200:]}")
            listed = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", f"{name}@msp.example"],
                                    env=env, check=True, capture_output=True, text=True).stdout
            fingerprints[name] = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))
        exported = subprocess.run(["gpg", "--batch", "--export", fingerprints["alice"], fingerprints["mallory"]],
                                  env=env, check=True, capture_output=True).stdout
        subprocess.run(["gpg", "--batch", "--import"], input=exported, check=True, capture_output=True,
                       env={**os.environ, "GNUPGHOME": str(keyring)})
        yield Gpg(signing, keyring, fingerprints)
    finally:
        # gpg started an agent per home for the key generation; stop exactly those.
        for home in (signing, keyring):
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


# ------------------------------------------------------------------------------------ commits


def run_git(repo: Path, *args: str, env: Mapping[str, str] | None = None, data: bytes | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, input=data,
                          env={**os.environ, **(env or {})})
    return done.stdout.decode().strip()


def ssh_signing(key: SshKey) -> list[str]:
    return ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key.private}"]


def gpg_signing(fingerprint: str) -> list[str]:
    return ["-c", "gpg.format=openpgp", "-c", f"user.signingKey={fingerprint}"]


def commit_and_push(remote, mirror, files: dict[str, str], message: str, signing: list[str] | None = None,
                    env: Mapping[str, str] | None = None) -> str:
    """Commit ``files`` on main in the working clone (signed with ``signing``), push, fetch; the sha."""
    write_files(remote.work, files)
    run_git(remote.work, "add", "-A")
    run_git(remote.work, *(signing or []), "commit", "-q", *(["-S"] if signing else []), "-m", message, env=env)
    run_git(remote.work, "push", "-q", "origin", "HEAD:refs/heads/main")
    mirror.fetch()
    return run_git(remote.work, "rev-parse", "HEAD")


def rewrite(mirror, sha: str, change) -> str:
    """A copy of commit ``sha`` written into the mirror with ``change`` applied to its raw text."""
    raw = run_git(mirror.path, "cat-file", "commit", sha) + "\n"
    changed = change(raw)
    assert changed != raw
    return run_git(mirror.path, "hash-object", "-t", "commit", "-w", "--literally", "--stdin", data=changed.encode())


def signature_line(raw: str, index: int) -> str:
    """The ``index``-th base64 line of the commit's signature header."""
    body = [line for line in raw.split("\n\n", 1)[0].splitlines()
            if line.startswith(" ") and "-----" not in line]
    return body[index]


# -------------------------------------------------------------------------------- SSH verdicts


def test_a_commit_signed_by_an_allowed_ssh_key_is_ok_and_names_the_signer(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))
    verdict = verify_commit(mirror, sha, [ssh_signer("Alice Admin", ssh_keys["alice"])])
    assert verdict.ok
    assert verdict.signer == "Alice Admin"
    assert verdict.key == ssh_keys["alice"].fingerprint


def test_an_unsigned_commit_is_refused(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "unsigned")
    verdict = verify_commit(mirror, sha, [ssh_signer("Alice", ssh_keys["alice"])])
    assert (verdict.ok, verdict.signer, verdict.reason, verdict.key) == (False, None, "not signed", None)


def test_a_key_outside_allowed_signers_is_refused_and_named(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "by mallory", ssh_signing(ssh_keys["mallory"]))
    verdict = verify_commit(mirror, sha, [ssh_signer("Alice", ssh_keys["alice"]), ssh_signer("Bob", ssh_keys["bob"])])
    assert not verdict.ok and verdict.signer is None
    assert verdict.reason == f"signed by SSH key {ssh_keys['mallory'].fingerprint} which is not an allowed signer"
    assert verdict.key == ssh_keys["mallory"].fingerprint


def test_no_allowed_signers_at_all_allows_nothing(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))
    verdict = verify_commit(mirror, sha, [])
    assert not verdict.ok
    assert "not an allowed signer" in verdict.reason


@pytest.mark.parametrize("signer", ["alice", "bob"])
def test_several_signers_each_map_to_their_own_name(remote, mirror, ssh_keys, signer):
    sha = commit_and_push(remote, mirror, {"a.yaml": f"by: {signer}\n"}, "signed", ssh_signing(ssh_keys[signer]))
    signers = [
        Signer(name="Someone with GPG", gpg="0" * 40),
        ssh_signer("Alice, Team \"Lead\"", ssh_keys["alice"]),  # names may hold any character
        ssh_signer("Bob", ssh_keys["bob"]),
    ]
    verdict = verify_commit(mirror, sha, signers)
    assert verdict.ok
    assert verdict.signer == {"alice": "Alice, Team \"Lead\"", "bob": "Bob"}[signer]
    assert verdict.key == ssh_keys[signer].fingerprint


def test_a_signed_merge_commit_is_checked_like_any_other(remote, mirror, ssh_keys):
    run_git(remote.work, "checkout", "-q", "-b", "pr/feature")
    run_git(remote.work, "commit", "-q", "--allow-empty", "-m", "feature work, unsigned")
    run_git(remote.work, "checkout", "-q", "main")
    run_git(remote.work, "commit", "-q", "--allow-empty", "-m", "main moved on")
    run_git(remote.work, *ssh_signing(ssh_keys["bob"]), "merge", "-q", "--no-ff", "-S", "-m", "Merge pr/feature",
            "pr/feature")
    run_git(remote.work, "push", "-q", "origin", "HEAD:refs/heads/main")
    mirror.fetch()
    merge = mirror.head("main")
    assert len(run_git(mirror.path, "rev-list", "--parents", "-1", merge).split()) == 3
    verdict = verify_commit(mirror, merge, [ssh_signer("Bob", ssh_keys["bob"])])
    assert (verdict.ok, verdict.signer) == (True, "Bob")
    # The merged branch's own commits are not what is checked, and they are unsigned.
    assert verify_commit(mirror, f"{merge}^2", [ssh_signer("Bob", ssh_keys["bob"])]).reason == "not signed"


def test_a_changed_commit_with_the_original_signature_is_a_bad_signature(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "install hello-tool", ssh_signing(ssh_keys["alice"]))
    forged = rewrite(mirror, sha, lambda raw: raw.replace("install hello-tool", "uninstall everything"))
    verdict = verify_commit(mirror, forged, [ssh_signer("Alice", ssh_keys["alice"])])
    assert not verdict.ok and verdict.signer is None
    assert verdict.reason.startswith("bad signature")
    assert verify_commit(mirror, sha, [ssh_signer("Alice", ssh_keys["alice"])]).ok  # the original still is


@pytest.mark.parametrize("line", [0, -1], ids=["key-part-corrupted", "signature-bytes-corrupted"])
def test_a_corrupted_signature_is_refused(remote, mirror, ssh_keys, line):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))

    def corrupt(raw: str) -> str:
        original = signature_line(raw, line)
        middle = len(original) // 2
        flipped = original[:middle] + ("A" if original[middle] != "A" else "B") + original[middle + 1:]
        return raw.replace(original, flipped)

    verdict = verify_commit(mirror, rewrite(mirror, sha, corrupt), [ssh_signer("Alice", ssh_keys["alice"])])
    assert not verdict.ok and verdict.signer is None
    assert verdict.reason.startswith(("bad signature", "signed by SSH key"))


def test_settings_from_global_env_and_mirror_config_cannot_widen_the_allowed_signers(
        remote, mirror, ssh_keys, tmp_path, monkeypatch):
    sha_alice = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "alice", ssh_signing(ssh_keys["alice"]))
    sha_mallory = commit_and_push(remote, mirror, {"a.yaml": "a: 2\n"}, "mallory", ssh_signing(ssh_keys["mallory"]))
    # A rogue allowed-signers file that uses the controller's own principal naming.
    rogue = tmp_path / "rogue_signers"
    rogue.write_text(f"signer-0 {ssh_keys['mallory'].public}\n")
    user_config = tmp_path / "user.gitconfig"
    user_config.write_text(f"[gpg \"ssh\"]\n\tallowedSignersFile = {rogue}\n\tprogram = false\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(user_config))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "gpg.ssh.allowedSignersFile")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(rogue))
    run_git(mirror.path, "config", "gpg.ssh.allowedSignersFile", str(rogue))
    run_git(mirror.path, "config", "gpg.ssh.program", "false")
    signers = [ssh_signer("Alice", ssh_keys["alice"])]
    assert verify_commit(mirror, sha_mallory, signers).reason.endswith("which is not an allowed signer")
    assert verify_commit(mirror, sha_alice, signers).signer == "Alice"


def test_the_allowed_signers_file_is_private_and_removed_afterwards(remote, mirror, ssh_keys, tmp_path, monkeypatch):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))
    log = tmp_path / "seen"
    wrapper = tmp_path / "ssh-keygen-spy"
    # A real ssh-keygen behind a spy that records the mode and content of the -f file it is given.
    wrapper.write_text(f'#!/bin/sh\nprev=""\nfor arg in "$@"; do\n  if [ "$prev" = "-f" ]; then '
                       f'stat -c %a "$arg" >> {log}; cat "$arg" >> {log}; fi\n  prev="$arg"\ndone\n'
                       f'exec {shutil.which("ssh-keygen")} "$@"\n')
    wrapper.chmod(0o700)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    verdict = verify_commit(mirror, sha, [ssh_signer("Alice Admin", ssh_keys["alice"])],
                            ssh_keygen_program=str(wrapper))
    assert verdict.signer == "Alice Admin"
    seen = log.read_text().splitlines()
    assert seen[0] == "600"
    assert seen[1].startswith('signer-0 namespaces="git" ssh-ed25519 ')
    assert "Alice" not in log.read_text()
    assert list(scratch.iterdir()) == []


def test_unusable_allowed_signer_entries_are_left_out_and_named(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))
    alice_blob = ssh_keys["alice"].public.split()[1]
    signers = [
        Signer(name="Alice (with options)", ssh=f'cert-authority {ssh_keys["alice"].public}'),
        Signer(name="Alice (wrong type)", ssh=f"ssh-rsa {alice_blob}"),
        Signer(name="Alice (truncated)", ssh=f"ssh-ed25519 {alice_blob[:20]}"),
    ]
    verdict = verify_commit(mirror, sha, signers)
    assert not verdict.ok
    for signer in signers:
        assert signer.name in verdict.reason
    assert verify_commit(mirror, sha, [*signers, ssh_signer("Alice", ssh_keys["alice"])]).signer == "Alice"


def test_the_allowed_signers_file_cannot_be_injected_into(ssh_keys):
    sneaky = Signer(name="x", ssh=f"ssh-ed25519 AAAA\nsigner-9 {ssh_keys['mallory'].public}")
    text, names, unusable = ssh_allowed_signers([sneaky, ssh_signer("Alice", ssh_keys["alice"])])
    assert names == {"signer-1": "Alice"}
    assert len(unusable) == 1 and unusable[0].startswith("x: ")
    assert text.count("\n") == 1 and "signer-9" not in text


def test_missing_ssh_keygen_is_a_clear_verdict(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))
    verdict = verify_commit(mirror, sha, [ssh_signer("Alice", ssh_keys["alice"])],
                            ssh_keygen_program="fleetward-no-such-ssh-keygen")
    assert not verdict.ok
    assert verdict.reason.startswith("ssh-keygen is not installed")


def test_a_check_that_hangs_is_stopped_and_refused(remote, mirror, ssh_keys, tmp_path):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))
    stuck = tmp_path / "ssh-keygen-stuck"
    stuck.write_text("#!/bin/sh\nsleep 30\n")
    stuck.chmod(0o700)
    started = time.monotonic()
    verdict = verify_commit(mirror, sha, [ssh_signer("Alice", ssh_keys["alice"])],
                            ssh_keygen_program=str(stuck), timeout=0.5)
    assert time.monotonic() - started < 10
    assert not verdict.ok
    assert "timed out after 0.5s" in verdict.reason


# ------------------------------------------------------------------------------ other shapes


def test_a_commit_the_mirror_lacks_is_not_found(mirror):
    mirror.fetch()
    with pytest.raises(NotFound, match="not in the repository mirror"):
        verify_commit(mirror, "0123456789abcdef0123456789abcdef01234567", [])


@pytest.mark.parametrize(("armour", "expected"), [
    ("-----BEGIN SIGNED MESSAGE-----", "signed with an X.509 certificate"),
    ("-----BEGIN SOMETHING ELSE-----", "signed in a format git does not know"),
], ids=["x509", "unknown"])
def test_signatures_of_other_kinds_are_refused(remote, mirror, armour, expected):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "plain")
    forged = rewrite(mirror, sha, lambda raw: raw.replace(
        "\n\n", f"\ngpgsig {armour}\n MIIBAAAA\n -----END-----\n\n", 1))
    verdict = verify_commit(mirror, forged, [Signer(name="Anyone", gpg="A" * 40)])
    assert not verdict.ok
    assert verdict.reason.startswith(expected)


def test_an_oversized_commit_object_is_refused_unread(remote, mirror, ssh_keys):
    sha = commit_and_push(remote, mirror, {"a.yaml": "a: 1\n"}, "signed", ssh_signing(ssh_keys["alice"]))
    huge = rewrite(mirror, sha, lambda raw: raw + "x" * MAX_COMMIT_BYTES)
    verdict = verify_commit(mirror, huge, [ssh_signer("Alice", ssh_keys["alice"])])
    assert not verdict.ok
    assert "bytes, more than" in verdict.reason


# -------------------------------------------------------------------------------- GPG verdicts


@pytest.fixture
def gpg_signed(remote, mirror, gpg):
    def sign(name: str) -> str:
        return commit_and_push(remote, mirror, {"a.yaml": f"by: {name}\n"}, f"signed by {name}",
                               gpg_signing(gpg.fingerprints[name]), env={"GNUPGHOME": str(gpg.signing_home)})
    return sign


def test_a_gpg_signature_by_an_allowed_key_in_the_keyring_is_ok(mirror, gpg, gpg_signed):
    sha = gpg_signed("alice")
    signers = [Signer(name="Alice (GPG)", gpg=gpg.fingerprints["alice"])]
    verdict = verify_commit(mirror, sha, signers, gnupg_home=gpg.keyring)
    assert (verdict.ok, verdict.signer, verdict.key) == (True, "Alice (GPG)", gpg.fingerprints["alice"])


def test_a_gpg_key_in_the_keyring_but_not_allowed_is_refused(mirror, gpg, gpg_signed):
    sha = gpg_signed("mallory")
    verdict = verify_commit(mirror, sha, [Signer(name="Alice", gpg=gpg.fingerprints["alice"])],
                            gnupg_home=gpg.keyring)
    assert not verdict.ok
    assert verdict.reason == f"signed by GPG key {gpg.fingerprints['mallory']} which is not in allowedSigners"


def test_an_allowed_gpg_key_missing_from_the_keyring_says_to_import_it(mirror, gpg, gpg_signed):
    sha = gpg_signed("carol")
    verdict = verify_commit(mirror, sha, [Signer(name="Carol", gpg=gpg.fingerprints["carol"])],
                            gnupg_home=gpg.keyring)
    assert not verdict.ok
    assert f"{gpg.fingerprints['carol']} of allowed signer 'Carol'" in verdict.reason
    assert "not in the controller's GPG keyring" in verdict.reason


def test_without_a_keyring_gpg_signatures_are_refused_and_the_key_named(mirror, gpg, gpg_signed):
    sha = gpg_signed("alice")
    verdict = verify_commit(mirror, sha, [Signer(name="Alice", gpg=gpg.fingerprints["alice"])])
    assert not verdict.ok
    assert verdict.key == gpg.fingerprints["alice"]
    assert "no GPG keyring" in verdict.reason


def test_a_changed_gpg_signed_commit_is_a_bad_signature(mirror, gpg, gpg_signed):
    sha = gpg_signed("alice")
    forged = rewrite(mirror, sha, lambda raw: raw.replace("signed by alice", "signed by alice, honest"))
    verdict = verify_commit(mirror, forged, [Signer(name="Alice", gpg=gpg.fingerprints["alice"])],
                            gnupg_home=gpg.keyring)
    assert not verdict.ok
    assert verdict.reason.startswith("bad signature")


def test_missing_gpg_is_a_clear_verdict(mirror, gpg, gpg_signed):
    sha = gpg_signed("alice")
    verdict = verify_commit(mirror, sha, [Signer(name="Alice", gpg=gpg.fingerprints["alice"])],
                            gnupg_home=gpg.keyring, gpg_program="fleetward-no-such-gpg")
    assert not verdict.ok
    assert verdict.reason.startswith("gpg is not installed")


def test_a_keyring_that_is_not_a_directory_is_a_config_error(mirror, gpg, gpg_signed, tmp_path):
    sha = gpg_signed("alice")
    with pytest.raises(ConfigError, match="is not a directory"):
        verify_commit(mirror, sha, [Signer(name="Alice", gpg=gpg.fingerprints["alice"])],
                      gnupg_home=tmp_path / "missing")

