"""Finished jobs, kept so a result is never lost and a job never runs twice.

Jobs are at-least-once: the controller leases a job again when it did not hear
the result. Each finished job leaves ``journal/<job_id>.json`` holding its
result event, its seq and whether the controller acknowledged it:

* an entry not yet acknowledged is in the *outbox*; every cycle re-sends it;
* a verified job whose id is in the journal is not executed again: the stored
  result is re-sent (the earlier report was lost);
* refusals of jobs that failed signature checks are journalled for delivery
  only (``verified`` false): their job id was not proven, so they never stand
  in for a later, genuine job with the same id.

Acknowledged entries beyond ``journal_keep`` are pruned oldest first; the
replay check then rests on ``seen_seq`` alone, which is enough because the
controller does not re-lease acknowledged jobs.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.errors import ConfigError
from agent.state import read_json, write_json
from schemas.protocol import JobEvent

log = logging.getLogger(__name__)

_SAFE_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_ACKED = ".json"
_UNSENT = ".unsent.json"


class JournalEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    seq: int | None
    verified: bool
    event: JobEvent
    acked: bool = False
    recorded_at: datetime


def is_safe_job_id(job_id: str) -> bool:
    """Job ids become file names; anything else is refused before it touches the disk."""
    return _SAFE_JOB_ID.fullmatch(job_id) is not None


class Journal:
    """``journal/<job_id>.json`` once acknowledged, ``journal/<job_id>.unsent.json`` before.

    Keeping the outbox visible in the file names means a cycle lists the outbox
    without opening every finished job's file.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _paths(self, job_id: str) -> tuple[Path, Path]:
        if not is_safe_job_id(job_id):
            raise ValueError(f"job id {job_id!r} is not safe as a file name")
        return self.folder / f"{job_id}{_ACKED}", self.folder / f"{job_id}{_UNSENT}"

    def get(self, job_id: str) -> JournalEntry | None:
        if not is_safe_job_id(job_id):
            return None
        for path in self._paths(job_id):
            if path.is_file():
                return self._read(path)
        return None

    def _read(self, path: Path) -> JournalEntry | None:
        try:
            return JournalEntry.model_validate(read_json(path))
        except (ConfigError, ValidationError) as exc:
            # A damaged entry must not stop the agent; it can only cost one re-run of a job.
            log.warning("ignoring unreadable journal entry %s: %s", path.name, exc)
            return None

    def record(self, job_id: str, seq: int | None, event: JobEvent, *, verified: bool) -> JournalEntry:
        """Store a finished job's result as unsent (the outbox) before anyone is told."""
        acked_path, unsent_path = self._paths(job_id)
        entry = JournalEntry(job_id=job_id, seq=seq, verified=verified, event=event,
                             recorded_at=datetime.now(UTC))
        write_json(unsent_path, entry.model_dump(mode="json"))
        acked_path.unlink(missing_ok=True)
        return entry

    def acknowledge(self, job_id: str) -> None:
        acked_path, unsent_path = self._paths(job_id)
        entry = self._read(unsent_path) if unsent_path.is_file() else None
        if entry is None:
            return
        entry.acked = True
        write_json(acked_path, entry.model_dump(mode="json"))
        unsent_path.unlink(missing_ok=True)

    def outbox(self) -> list[JournalEntry]:
        """Results the controller has not acknowledged, oldest first."""
        if not self.folder.is_dir():
            return []
        found = (self._read(path) for path in self.folder.glob(f"*{_UNSENT}"))
        pending = [entry for entry in found if entry is not None]
        return sorted(pending, key=lambda entry: (entry.recorded_at, entry.job_id))

    def prune(self, keep: int) -> int:
        """Drop the oldest acknowledged entries beyond ``keep``; returns how many went."""
        if not self.folder.is_dir():
            return 0
        acked = [path for path in self.folder.glob(f"*{_ACKED}") if not path.name.endswith(_UNSENT)]
        if len(acked) <= keep:
            return 0
        acked.sort(key=lambda path: (path.stat().st_mtime, path.name))
        doomed = acked[: len(acked) - keep]
        for path in doomed:
            path.unlink(missing_ok=True)
        return len(doomed)

    def clear(self) -> None:
        """Forget every entry: used when the data dir is enrolled as a new agent."""
        if self.folder.is_dir():
            for path in self.folder.glob("*.json"):
                path.unlink()
