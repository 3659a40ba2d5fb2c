"""What a package job reports: its outcome and the tail of what it did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from schemas.limits import MAX_JOB_OUTPUT_CHARS
from schemas.protocol import JobPhase, ManagedItem

Progress = Callable[[JobPhase, "int | None"], None]
"""Told each phase of a running job (and, while downloading, the percentage that arrived)."""


def no_progress(phase: JobPhase, percent: int | None) -> None:
    return None


@dataclass(frozen=True)
class Outcome:
    status: Literal["succeeded", "failed"]
    message: str
    reason: str = ""
    output: str = ""
    managed: ManagedItem | None = None
    reboot: Literal["", "soft", "hard"] = ""
    """A reboot the installer asked for: requested in the result, never performed by the agent."""
    retry_after_seconds: int | None = None
    """The installer said "not now" (another install running, a pending reboot): try again after this long."""
    rolled_back_to: str | None = None
    """After a failed install: the previous version restored from its cached artifact."""

    @property
    def retry_later(self) -> bool:
        return self.retry_after_seconds is not None


class OutputLog:
    """What a job did, line by line; only the tail the protocol allows is kept."""

    def __init__(self, limit: int = MAX_JOB_OUTPUT_CHARS) -> None:
        self.limit = limit
        self._text = ""

    def add(self, line: str) -> None:
        self._text = (self._text + line + "\n")[-self.limit:]

    @property
    def text(self) -> str:
        return self._text
