"""Whether a commit was signed by someone the fleet allows (``requireSignedCommits``).

:func:`verify_commit` reads the commit's signature header itself, to say plainly "not signed"
or which kind of signature it is, and lets git check the signature: ``git verify-commit --raw``
runs ``ssh-keygen -Y find-principals`` / ``-Y verify`` for SSH signatures and ``gpg --verify``
for OpenPGP ones, on exactly the bytes git signs. Everything about the signature comes back as
a :class:`SignatureVerdict` whose ``reason`` a technician can act on; only a commit the mirror
lacks raises (NotFound).

Trust comes from the reviewed ``allowedSigners`` list in ``fleet.yaml`` and nowhere else:

* SSH: the signers' keys go into a temporary allowed-signers file (mode 0600) for the ``git``
  namespace only. Its principals are ``signer-<index>``, not the names, because a name may hold
  any character; the index maps the principal ssh-keygen reports back to the name.
* GPG: ``fleet.yaml`` holds fingerprints, not keys, so the public keys must be in a keyring the
  controller is configured with (``gnupg_home``). A good signature counts only when the signing
  key's fingerprint or its primary key's fingerprint (gpg's VALIDSIG line) is listed; the
  keyring's trust database plays no part.

The verdict does not depend on anyone's git configuration: system and global config are
switched off, HOME points at an empty folder, and every setting the check uses is given with
``-c``, which overrides the mirror's own config.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from controller.errors import ConfigError, NotFound
from controller.gitsource.mirroring import RepoMirror
from controller.gitsource.running import GitResult, failure, run_git
from schemas.fleet import Signer

VERIFY_TIMEOUT = 30.0
"""Seconds one signature check may take before git (and ssh-keygen or gpg) is stopped."""
MAX_COMMIT_BYTES = 1 << 20
"""A commit object larger than this is refused rather than read (real ones are a few KiB)."""

SSH_KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
})
"""Key types accepted in ``allowedSigners[].ssh`` (ssh-dss is gone from current OpenSSH)."""

SignatureKind = Literal["ssh", "gpg", "x509", "unknown"]

_SIGNATURE_HEADERS = ("gpgsig", "gpgsig-sha256")
_ARMOUR: Mapping[str, SignatureKind] = {
    "-----BEGIN SSH SIGNATURE-----": "ssh",
    "-----BEGIN PGP SIGNATURE-----": "gpg",
    "-----BEGIN SIGNED MESSAGE-----": "x509",
}
_PRINCIPAL_PREFIX = "signer-"
# What git 2.34+ prints for an SSH signature with --raw (ssh-keygen's own words).
_SSH_ALLOWED = re.compile(r'^Good "git" signature for (?P<principal>\S+) with \S+ key (?P<key>\S+)\s*$', re.M)
_SSH_UNLISTED = re.compile(r'^Good "git" signature with \S+ key (?P<key>\S+)\s*$', re.M)
_GPG_STATUS = "[GNUPG:] "


@dataclass(frozen=True)
class SignatureVerdict:
    """Whether a commit may be applied under ``requireSignedCommits``, and why (not).

    ``reason`` is a short sentence without the commit id ("not signed", "bad signature: ...",
    "signed by SSH key SHA256:... which is not an allowed signer"); the caller names the commit.
    """

    ok: bool
    signer: str | None
    """The allowed signer's ``name`` when ``ok``, else None."""
    reason: str
    key: str | None = None
    """The signing key when it is known: an SSH ``SHA256:...`` fingerprint or a GPG fingerprint."""


def verify_commit(mirror: RepoMirror, sha: str, signers: Sequence[Signer], *,
                  gnupg_home: Path | None = None, gpg_program: str = "gpg",
                  ssh_keygen_program: str = "ssh-keygen", timeout: float = VERIFY_TIMEOUT) -> SignatureVerdict:
    """Check that commit ``sha`` in ``mirror`` carries a good signature by one of ``signers``.

    ``gnupg_home`` is the controller's GPG keyring holding the allowed signers' public keys;
    without it every GPG-signed commit is refused (with a reason saying so). The program names
    are looked up on PATH. Raises NotFound when the mirror lacks the commit, ConfigError when
    ``gnupg_home`` is given but is not a directory; every other outcome is a verdict.
    """
    with mirror.lock:
        resolved = mirror.resolve(sha)
        if resolved is None:
            raise NotFound(f"commit {sha[:40]!r} is not in the repository mirror {mirror.path}",
                           hint="fetch first; the commit may have been force-pushed away")
        size = run_git(mirror.repo, ["cat-file", "-s", resolved], timeout=timeout)
        if size.ok and int(size.stdout.strip() or 0) > MAX_COMMIT_BYTES:
            return _refused(f"the commit object is {int(size.stdout):,} bytes, more than the "
                            f"{MAX_COMMIT_BYTES:,} a signed commit may have")
        raw = run_git(mirror.repo, ["cat-file", "commit", resolved], timeout=timeout)
        if not raw.ok:
            return _refused(failure(raw, "reading the commit", timeout))
        kind = signature_kind(raw.stdout)
        if kind is None:
            return _refused("not signed")
        if kind == "x509":
            return _refused("signed with an X.509 certificate; allowedSigners accepts SSH and GPG keys only")
        if kind == "unknown":
            return _refused("signed in a format git does not know (neither SSH nor GPG)")
        if kind == "ssh":
            return _verify_ssh(mirror, resolved, signers, ssh_keygen_program, timeout)
        return _verify_gpg(mirror, resolved, signers, gnupg_home, gpg_program, timeout)


def signature_kind(commit_object: str) -> SignatureKind | None:
    """Which signature the raw commit object (``git cat-file commit``) carries; None if unsigned."""
    headers, _, _ = commit_object.partition("\n\n")
    signature: list[str] | None = None
    for line in headers.split("\n"):
        if signature is not None and line.startswith(" "):
            signature.append(line[1:])
            continue
        if signature is not None:
            break
        name, _, value = line.partition(" ")
        if name in _SIGNATURE_HEADERS:
            signature = [value]
    if signature is None:
        return None
    first = next((line.strip() for line in signature if line.strip()), "")
    return _ARMOUR.get(first, "unknown")


def ssh_allowed_signers(signers: Sequence[Signer]) -> tuple[str, dict[str, str], list[str]]:
    """The allowed-signers file for ``signers``' SSH keys, {principal: name}, and unusable entries.

    Each unusable entry is ``"<name>: <why>"``; it is left out of the file rather than spoiling
    the whole list, and the verdict mentions it when a check fails.
    """
    lines: list[str] = []
    names: dict[str, str] = {}
    unusable: list[str] = []
    for index, signer in enumerate(signers):
        if signer.ssh is None:
            continue
        try:
            key_type, blob = _ssh_public_key(signer.ssh)
        except ValueError as error:
            unusable.append(f"{signer.name}: {error}")
            continue
        principal = f"{_PRINCIPAL_PREFIX}{index}"
        names[principal] = signer.name
        lines.append(f'{principal} namespaces="git" {key_type} {blob}\n')
    return "".join(lines), names, unusable


def _verify_ssh(mirror: RepoMirror, sha: str, signers: Sequence[Signer], program: str,
                timeout: float) -> SignatureVerdict:
    found = shutil.which(program)
    if found is None:
        return _refused(f"ssh-keygen is not installed ({program!r} is not on PATH), so SSH signatures "
                        f"cannot be checked")
    allowed_text, names, unusable = ssh_allowed_signers(signers)
    with _scratch() as scratch:
        allowed = _write_private(scratch / "allowed_signers", allowed_text)
        revoked = _write_private(scratch / "revoked_keys", "")
        result = _run_verify(mirror, sha, scratch, scratch / "gnupg", timeout, {
            "gpg.ssh.program": found,
            "gpg.ssh.allowedSignersFile": str(allowed),
            "gpg.ssh.revocationFile": str(revoked),
        })
    verdict = _ssh_verdict(result, names, timeout)
    if not verdict.ok and unusable:
        skipped = "; ".join(unusable)
        verdict = SignatureVerdict(False, None, f"{verdict.reason} (allowedSigners entries left out because "
                                                f"their ssh key is unusable: {skipped})", verdict.key)
    return verdict


def _ssh_verdict(result: GitResult, names: Mapping[str, str], timeout: float) -> SignatureVerdict:
    said = f"{result.stdout}\n{result.stderr}"
    if result.timed_out:
        return _refused(failure(result, "checking the SSH signature", timeout))
    allowed = _SSH_ALLOWED.search(said)
    if result.ok and allowed is not None and allowed["principal"] in names:
        key = allowed["key"]
        return SignatureVerdict(True, names[allowed["principal"]], f"signed by SSH key {key}", key)
    if "incorrect signature" in said or "Could not verify signature" in said:
        return _refused("bad signature: the commit or its signature was changed after signing")
    if "invalid format" in said:
        return _refused("bad signature: the SSH signature is damaged and cannot be read")
    unlisted = _SSH_UNLISTED.search(said)
    if unlisted is not None:
        key = unlisted["key"]
        return _refused(f"signed by SSH key {key} which is not an allowed signer", key)
    return _refused(failure(result, "checking the SSH signature", timeout))


def _verify_gpg(mirror: RepoMirror, sha: str, signers: Sequence[Signer], gnupg_home: Path | None,
                program: str, timeout: float) -> SignatureVerdict:
    found = shutil.which(program)
    if found is None:
        return _refused(f"gpg is not installed ({program!r} is not on PATH), so GPG signatures cannot be checked")
    if gnupg_home is not None and not gnupg_home.is_dir():
        raise ConfigError(f"the GPG keyring {gnupg_home} is not a directory",
                          hint="point the controller at a GnuPG home holding the allowed signers' public "
                               "keys (gpg --homedir DIR --import KEY.asc)")
    fingerprints = {signer.gpg.upper(): signer.name for signer in signers if signer.gpg is not None}
    with _scratch() as scratch:
        # Without a configured keyring, an empty one still lets gpg name the signing key.
        home = gnupg_home if gnupg_home is not None else _private_dir(scratch / "gnupg")
        result = _run_verify(mirror, sha, scratch, home, timeout, {
            "gpg.program": found,
            "gpg.openpgp.program": found,
        })
    return _gpg_verdict(result, fingerprints, keyring=gnupg_home is not None, timeout=timeout)


def _gpg_verdict(result: GitResult, fingerprints: Mapping[str, str], *, keyring: bool,
                 timeout: float) -> SignatureVerdict:
    if result.timed_out:
        return _refused(failure(result, "checking the GPG signature", timeout))
    status: dict[str, list[str]] = {}
    signatures = 0
    for line in f"{result.stdout}\n{result.stderr}".splitlines():
        if line.startswith(_GPG_STATUS):
            keyword, *fields = line[len(_GPG_STATUS):].split()
            signatures += keyword == "NEWSIG"
            status.setdefault(keyword, fields)
    if not status:
        return _refused(failure(result, "checking the GPG signature", timeout))
    if signatures > 1:
        return _refused(f"the signature block holds {signatures} signatures; a signed commit must carry exactly one")
    if "BADSIG" in status:
        return _refused("bad signature: the commit or its signature was changed after signing")
    if "ERRSIG" in status:
        return _gpg_unchecked(status, fingerprints, keyring=keyring)
    valid = status.get("VALIDSIG", [])
    fingerprint = valid[0].upper() if valid else None
    primary = valid[9].upper() if len(valid) > 9 else fingerprint
    for keyword, why in (("EXPKEYSIG", "which has expired"), ("REVKEYSIG", "which was revoked")):
        if keyword in status:
            return _refused(f"signed by GPG key {primary or status[keyword][0]} {why}", primary)
    if "EXPSIG" in status:
        return _refused("the GPG signature itself has expired", primary)
    if not (result.ok and "GOODSIG" in status and fingerprint):
        return _refused(failure(result, "checking the GPG signature", timeout), primary)
    primary = primary or fingerprint
    for candidate in (fingerprint, primary):
        if candidate in fingerprints:
            return SignatureVerdict(True, fingerprints[candidate], f"signed by GPG key {candidate}", candidate)
    return _refused(f"signed by GPG key {primary} which is not in allowedSigners", primary)


def _gpg_unchecked(status: Mapping[str, list[str]], fingerprints: Mapping[str, str], *,
                   keyring: bool) -> SignatureVerdict:
    # ERRSIG <keyid> <pkalgo> <hashalgo> <class> <time> <rc> [<fpr>]; rc 9 is "no public key".
    fields = status["ERRSIG"]
    key = (fields[6] if len(fields) > 6 and fields[6] != "-" else fields[0] if fields else "?").upper()
    code = fields[5] if len(fields) > 5 else ""
    if "NO_PUBKEY" not in status and code != "9":
        return _refused(f"the GPG signature by key {key} cannot be checked (gpg error code {code or '?'}, "
                        f"e.g. an algorithm this gpg does not support)", key)
    if not keyring:
        return _refused(f"signed by GPG key {key}, but the controller has no GPG keyring to check it with "
                        f"(configure one holding the allowed signers' public keys)", key)
    named = fingerprints.get(key)
    if named is not None:
        return _refused(f"signed by GPG key {key} of allowed signer {named!r}, but that public key is not in "
                        f"the controller's GPG keyring (import it there)", key)
    return _refused(f"signed by GPG key {key} which is not in allowedSigners (nor in the controller's "
                    f"GPG keyring)", key)


def _run_verify(mirror: RepoMirror, sha: str, scratch: Path, gnupg_home: Path, timeout: float,
                settings: Mapping[str, str]) -> GitResult:
    home = _private_dir(scratch / "home")
    no_config = _write_private(scratch / "gitconfig", "")
    config = {"gpg.minTrustLevel": "undefined", **settings}
    options = [item for key, value in config.items() for item in ("-c", f"{key}={value}")]
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(no_config),
        "GIT_CONFIG_NOSYSTEM": "1",
        # Config handed down through the environment is someone's config too.
        "GIT_CONFIG_COUNT": "0",
        "GIT_CONFIG_PARAMETERS": "",
        "GNUPGHOME": str(gnupg_home),
        "LC_ALL": "C",
        "LANGUAGE": "C",
    }
    return run_git(mirror.repo, [*options, "verify-commit", "--raw", "--end-of-options", sha],
                   timeout=timeout, env=env)


def _ssh_public_key(line: str) -> tuple[str, str]:
    """(key type, base64 key) of an ``ssh-ed25519 AAAA... comment`` line; ValueError saying why not."""
    parts = line.split()
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise ValueError(f"it must start with the key type ({', '.join(sorted(SSH_KEY_TYPES))}), "
                         f"as in a .pub file, without options")
    key_type, blob = parts[0], parts[1]
    try:
        data = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key after the type is not valid base64") from None
    fields = _length_prefixed(data)
    if fields is None or len(fields) < 2 or fields[0] != key_type.encode():
        raise ValueError(f"the key data is not a whole {key_type} key (copy the whole line of the .pub file)")
    return key_type, blob


def _length_prefixed(data: bytes) -> list[bytes] | None:
    # An SSH public key blob is a run of (uint32 length, bytes) fields and nothing else.
    fields: list[bytes] = []
    offset = 0
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        offset += 4
        if offset + length > len(data):
            return None
        fields.append(data[offset:offset + length])
        offset += length
    return fields


def _refused(reason: str, key: str | None = None) -> SignatureVerdict:
    return SignatureVerdict(False, None, reason, key)


@contextmanager
def _scratch() -> Iterator[Path]:
    # mkdtemp makes the folder 0700; it holds the allowed-signers file only for one check.
    with tempfile.TemporaryDirectory(prefix="fleetward-verify-") as folder:
        yield Path(folder)


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _write_private(path: Path, text: str) -> Path:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
