"""The agent's data directory: what lives where, and how it is written.

Layout of ``<data dir>``::

    agent.json              identity (mode 0600): server, agent_id, client, credential,
                            signing_keys, allow_insecure_http. Written once by ``enroll``.
    state.json              progress: seen_seq (highest job seq finished), the inventory
                            section hashes the controller accepted, last full inventory time,
                            the CPU seconds the last collection used (for the budget)
    controller-config.json  the last AgentConfig fetched from GET /config (discovery ranges,
                            inventory schedule); re-fetched when the check-in names another version
    journal/<job_id>.json   one per finished job: its result event, seq and whether the
                            controller acknowledged it; the unacknowledged ones are the outbox
    receipts/<package>.json what Fleetward installed: package, version, sha256, installed_at, path
    software/<package>/<version>/   the unpacked archive packages
    cache/                  downloads and extractions in progress (safe to delete when stopped)
    agent.lock              held (flock / msvcrt lock) by the process that runs jobs, so two
                            agents never work on one directory

Every file is written atomically (a temp file in the same folder, fsync, then
``os.replace``), so a crash leaves either the old or the new version. JSON files
are read with a size cap: the directory is ours, but a cap costs nothing.
The credential is only ever in ``agent.json``; ``AgentConfig``'s repr hides it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent.errors import ConfigError, DataDirLocked, NotEnrolled
from schemas.inventory import AgentConfig as ControllerConfig
from schemas.protocol import InventorySection, SigningKey, SoftwareItem

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

MAX_STATE_FILE_BYTES = 1024 * 1024

CONFIG_FILE = "agent.json"
STATE_FILE = "state.json"
CONTROLLER_CONFIG_FILE = "controller-config.json"
ACCEPTED_SOFTWARE_FILE = "accepted-software.json"
"""The software section the controller last accepted: what the next delta is computed from."""
LOCK_FILE = "agent.lock"
JOURNAL_DIR = "journal"
RECEIPTS_DIR = "receipts"
SOFTWARE_DIR = "software"
CACHE_DIR = "cache"


class StoredModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentConfig(StoredModel):
    """The identity ``enroll`` stores. Frozen: only a new enrolment replaces it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: str
    agent_id: str
    client: str
    credential: str = Field(repr=False)
    signing_keys: list[SigningKey]
    allow_insecure_http: bool = False
    checkin_interval_seconds: int = 60
    enrolled_at: datetime | None = None


class AgentState(StoredModel):
    seen_seq: int = 0
    inventory_hashes: dict[InventorySection, str] = Field(default_factory=dict)
    last_full_inventory: datetime | None = None
    last_inventory_scan: datetime | None = None
    checkin_interval_seconds: int | None = None
    last_collection_cpu_seconds: float | None = None
    deferred: dict[str, int] = Field(default_factory=dict)
    """Jobs (id -> seq) verified and waiting for their maintenance window; exempt from the replay
    check while they wait, since jobs with a higher seq may finish before them."""


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            temp.chmod(mode)  # before any secret is written, not after
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any, *, mode: int = 0o644) -> None:
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), mode=mode)


def read_json(path: Path) -> Any:
    """Parsed JSON, or ConfigError naming the file when it is too big or not JSON."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_STATE_FILE_BYTES + 1)
    if len(raw) > MAX_STATE_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_STATE_FILE_BYTES} bytes",
                          hint="the file is not one the agent wrote; restore or delete it")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})",
                          hint="restore it from backup or delete it") from None


class DataDir:
    """Paths and typed access to one agent data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def controller_config_path(self) -> Path:
        return self.root / CONTROLLER_CONFIG_FILE

    @property
    def journal_dir(self) -> Path:
        return self.root / JOURNAL_DIR

    @property
    def receipts_dir(self) -> Path:
        return self.root / RECEIPTS_DIR

    @property
    def software_dir(self) -> Path:
        return self.root / SOFTWARE_DIR

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE_DIR

    def create(self) -> None:
        """Make the directory tree; private to the agent's user where the OS allows."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in (self.journal_dir, self.receipts_dir, self.software_dir, self.cache_dir):
            folder.mkdir(exist_ok=True, mode=0o700)

    def is_enrolled(self) -> bool:
        return self.config_path.is_file()

    def load_config(self) -> AgentConfig:
        if not self.config_path.is_file():
            raise NotEnrolled(
                f"{self.root} holds no enrolment ({CONFIG_FILE} is missing)",
                hint=f"run: fleetward-agent enroll --server URL --token TOKEN --data-dir {self.root}",
            )
        try:
            return AgentConfig.model_validate(read_json(self.config_path))
        except ValidationError as exc:
            raise ConfigError(f"{self.config_path}: not a valid agent config ({exc.error_count()} "
                              "problems)", hint="enrol again with --force") from None

    def save_config(self, config: AgentConfig) -> None:
        write_json(self.config_path, config.model_dump(mode="json"), mode=0o600)

    def load_state(self) -> AgentState:
        if not self.state_path.is_file():
            return AgentState()
        try:
            return AgentState.model_validate(read_json(self.state_path))
        except ValidationError as exc:
            raise ConfigError(f"{self.state_path}: not a valid agent state ({exc.error_count()} "
                              "problems)", hint="delete it; the agent rebuilds it on the next run") from None

    def save_state(self, state: AgentState) -> None:
        write_json(self.state_path, state.model_dump(mode="json"))

    def load_controller_config(self) -> ControllerConfig | None:
        """The config last fetched from the controller; None when none is held or the file is
        unreadable (then the next check-in fetches it again, so a damaged file heals itself)."""
        if not self.controller_config_path.is_file():
            return None
        try:
            return ControllerConfig.model_validate(read_json(self.controller_config_path))
        except (ConfigError, ValidationError):
            return None

    def save_controller_config(self, config: ControllerConfig) -> None:
        write_json(self.controller_config_path, config.model_dump(mode="json"))

    @property
    def accepted_software_path(self) -> Path:
        return self.root / ACCEPTED_SOFTWARE_FILE

    def load_accepted_software(self) -> list[SoftwareItem] | None:
        """The software section the controller last accepted; None when none is held or the file is
        unreadable (the next report then sends the whole section, which heals it)."""
        if not self.accepted_software_path.is_file():
            return None
        try:
            return _SOFTWARE_LIST.validate_python(read_json(self.accepted_software_path))
        except (ConfigError, ValidationError):
            return None

    def save_accepted_software(self, items: list[SoftwareItem]) -> None:
        write_json(self.accepted_software_path, [item.model_dump(mode="json") for item in items])

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the data dir's lock for the block, or raise DataDirLocked at once."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.root / LOCK_FILE).open("a+b") as handle:
            if not try_lock_file(handle):
                raise DataDirLocked(f"another fleetward-agent is using {self.root}",
                                    hint="stop the running agent (or its service) first")
            try:
                yield
            finally:
                unlock_file(handle)


def try_lock_file(handle: IO[bytes]) -> bool:
    """Take the OS lock on an open file without waiting; False when another process holds it."""
    if sys.platform == "win32":
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unlock_file(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_SOFTWARE_LIST = TypeAdapter(list[SoftwareItem])
