"""Run one git command for this package: never prompting, always with a deadline.

Every command goes through :func:`run_git`, which

* sets ``GIT_TERMINAL_PROMPT=0`` (and the Git Credential Manager's equivalent) so a missing
  credential fails at once instead of waiting for a human who is not there;
* limits transports to those :mod:`~controller.gitsource.locations` accepts
  (``GIT_ALLOW_PROTOCOL``), so no configuration can make git run ``ext::`` commands;
* kills the command (and its children, e.g. ``git-remote-https``) after ``timeout``
  seconds — GitPython's ``kill_after_timeout``;
* returns status and output instead of raising, so callers decide which failures are
  retryable; :func:`failure` turns a failed result into a short, redacted sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import git

from controller.errors import ConfigError
from controller.gitsource.redacting import redact

DEFAULT_TIMEOUT = 60.0
"""Seconds a network operation (fetch, push) may take before it is killed."""
LOCAL_TIMEOUT = 120.0
"""Seconds a local plumbing command may take (writing a large status tree)."""
MAX_REPORTED_CHARS = 600
"""How much of git's stderr an error message quotes (the tail, where the reason is)."""

GIT_ENV: Mapping[str, str] = {
    "GIT_TERMINAL_PROMPT": "0",
    "GCM_INTERACTIVE": "never",
    "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
}


@dataclass(frozen=True)
class GitResult:
    args: tuple[str, ...]
    status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def timed_out(self) -> bool:
        # GitPython kills with SIGKILL, so the status is negative; it also rewrites stderr.
        return self.status < 0 or self.stderr.startswith("Timeout:")


def run_git(repo: git.Repo, args: Sequence[str], *, timeout: float,
            env: Mapping[str, str] | None = None, stdin: BinaryIO | None = None) -> GitResult:
    """Run ``git <args>`` in ``repo`` and return what happened (no exception for a non-zero exit)."""
    command = [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", *args]
    try:
        output = repo.git.execute(
            command,
            istream=stdin,
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=timeout,
            env={**GIT_ENV, **(env or {})},
        )
    except git.GitCommandNotFound:
        raise ConfigError("the git program was not found",
                          hint="install git (2.31 or newer) and make sure it is on PATH") from None
    status, stdout, stderr = output  # with_extended_output=True: (status, stdout, stderr)
    return GitResult(tuple(args), int(status), _text(stdout), _text(stderr))


def failure(result: GitResult, action: str, timeout: float) -> str:
    """``"<action> failed: <what git said>"``, redacted and trimmed, for an error message."""
    if result.timed_out:
        return f"{action} timed out after {timeout:g}s (git was stopped)"
    lines = [line.strip() for line in result.stderr.splitlines()]
    # git's "hint:" lines explain git's own workflow (git pull, ...), which does not apply here.
    said = "; ".join(line for line in lines if line and not line.startswith("hint:"))
    said = redact(said or result.stdout.strip() or f"exit status {result.status}")
    if len(said) > MAX_REPORTED_CHARS:
        said = "..." + said[-MAX_REPORTED_CHARS:]
    return f"{action} failed: {said}"


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)
