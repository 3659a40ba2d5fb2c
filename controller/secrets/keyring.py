"""The controller's X25519 sealing keys in ``<data dir>/keys/``, and rotation.

Each key is a PKCS#8 PEM file (mode 0600) named ``<created>-<key id>.x25519.pem``,
next to the job-signing ``*.ed25519.pem`` keys; the creation stamp in the name orders
the keys, so copying or restoring the folder cannot change which key seals. (A file
without a stamp, such as one restored by hand, is placed by its modification time.)

* The newest key seals: :attr:`Keyring.sealing_key` is what ``fleetward seal`` and
  ``GET /api/seal/public-key`` hand out.
* Every key present opens: a rotation adds a key, and values sealed to the older one
  keep opening until its file is removed.

:class:`Keyring` is one immutable snapshot; :class:`KeyFolder` is the folder as it is
now, re-read when a file is added or removed, so a rotation or removal takes effect in a
running controller without a restart. Private keys never leave these objects.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from controller.errors import ConfigError
from controller.secrets.public_keys import PublicSealingKey

KEY_SUFFIX = ".x25519.pem"
MAX_KEY_FILE_BYTES = 16_384
_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_STAMPED = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-[0-9a-f]{16}" + re.escape(KEY_SUFFIX) + "$")


@dataclass(frozen=True)
class SealingKeyPair:
    """One key file: its public half, its private half (never shown) and when it was made."""

    public: PublicSealingKey
    private: X25519PrivateKey = field(repr=False, compare=False)
    path: Path
    created: datetime

    @property
    def key_id(self) -> str:
        return self.public.key_id


class Keyring:
    """The sealing keys as they were when read: oldest first, the newest seals."""

    def __init__(self, pairs: Iterable[SealingKeyPair] = (), *, folder: Path | None = None) -> None:
        unique: dict[str, SealingKeyPair] = {}
        for pair in sorted(pairs, key=lambda p: (p.created, p.key_id)):
            unique.setdefault(pair.key_id, pair)
        self._pairs = tuple(unique.values())
        self._by_id = {pair.key_id: pair for pair in self._pairs}
        self.folder = folder

    @classmethod
    def load(cls, folder: Path) -> Keyring:
        """Every ``*.x25519.pem`` in ``folder`` (none when the folder does not exist)."""
        if not folder.is_dir():
            return cls(folder=folder)
        pairs = (_read_pair(path) for path in sorted(folder.glob(f"*{KEY_SUFFIX}")))
        return cls((pair for pair in pairs if pair is not None), folder=folder)

    @property
    def pairs(self) -> tuple[SealingKeyPair, ...]:
        return self._pairs

    @property
    def ids(self) -> list[str]:
        """Every key id that opens, oldest first."""
        return [pair.key_id for pair in self._pairs]

    @property
    def sealing_key(self) -> PublicSealingKey:
        """The newest key's public half: what new values are sealed to."""
        if not self._pairs:
            where = f" in {self.folder}" if self.folder is not None else ""
            raise ConfigError(f"no sealing key{where}",
                              hint="'fleetward seal key rotate --data-dir DIR' makes one (the controller "
                                   "makes one when it starts)")
        return self._pairs[-1].public

    def private_key(self, key_id: str) -> X25519PrivateKey | None:
        pair = self._by_id.get(key_id)
        return pair.private if pair is not None else None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids!r})"


class KeyFolder:
    """``<data dir>/keys/`` as it is now; thread-safe.

    :meth:`keyring` re-reads the key files when the folder's listing changed (one
    ``stat`` and one listing of the folder per call otherwise), so rotating or removing a
    key needs no restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, tuple[str, ...]] | None = None
        self._keyring = Keyring(folder=path)

    def keyring(self) -> Keyring:
        with self._lock:
            signature = self._folder_signature()
            if signature is None or signature != self._signature:
                self._keyring = Keyring.load(self.path)
                self._signature = signature
            return self._keyring

    def reload(self) -> Keyring:
        """Read the key files again even if the folder looks unchanged."""
        with self._lock:
            self._signature = None
        return self.keyring()

    def ensure(self) -> Keyring:
        """The keyring, after making the first key pair if there is none."""
        keyring = self.keyring()
        if len(keyring):
            return keyring
        with self._lock:
            if not len(Keyring.load(self.path)):
                create_key_pair(self.path)
            self._signature = None
        return self.keyring()

    def rotate(self, *, now: datetime | None = None) -> SealingKeyPair:
        """Make a new key pair that seals from now on; older keys keep opening until removed."""
        with self._lock:
            pair = create_key_pair(self.path, now=now)
            self._signature = None
        return pair

    def _folder_signature(self) -> tuple[int, int, tuple[str, ...]] | None:
        # The names as well as the folder's time: file times tick only every few milliseconds.
        try:
            stat = self.path.stat()
            names = tuple(sorted(entry.name for entry in self.path.iterdir() if entry.name.endswith(KEY_SUFFIX)))
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_ino, names)


def create_key_pair(folder: Path, *, now: datetime | None = None) -> SealingKeyPair:
    """Write a new key file, newer than every key already in ``folder``, atomically and mode 0600."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = (now or datetime.now(UTC)).astimezone(UTC)
    existing = Keyring.load(folder).pairs
    if existing and created <= existing[-1].created:
        created = existing[-1].created + timedelta(microseconds=1)  # a clock that went back still rotates
    private = X25519PrivateKey.generate()
    public = PublicSealingKey(private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    path = folder / f"{created.strftime(_STAMP_FORMAT)}-{public.key_id}{KEY_SUFFIX}"
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    temporary = folder / f".{path.name}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)  # readers never see half a key
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return SealingKeyPair(public=public, private=private, path=path, created=created)


def _read_pair(path: Path) -> SealingKeyPair | None:
    """The key in ``path``; None when the file was removed while the folder was being read."""
    restore = "restore it from backup, or delete it (values sealed to it will no longer open)"
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            raise ConfigError(f"{path}: over {MAX_KEY_FILE_BYTES} bytes, not a sealing key", hint=restore)
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        created = _created(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the sealing key ({error.strerror})",
                          hint="the controller's user must own <data dir>/keys/") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{path}: not a readable private key", hint=restore) from None
    if not isinstance(private, X25519PrivateKey):
        raise ConfigError(f"{path}: not an X25519 key; *{KEY_SUFFIX} files hold sealing keys", hint=restore)
    public = PublicSealingKey(private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    return SealingKeyPair(public=public, private=private, path=path, created=created)


def _created(path: Path) -> datetime:
    match = _STAMPED.match(path.name)
    if match:
        return datetime.strptime(match.group(1), _STAMP_FORMAT).replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
