"""Running one installer command: the single execution seam of the installer package.

:func:`run_command` starts a process in its own process group (session on POSIX,
``CREATE_NEW_PROCESS_GROUP`` on Windows), waits at most ``timeout`` seconds and,
on a timeout, kills the whole tree: an installer that hangs usually hangs in a
child it started. It is a thin layer over :func:`agent.processes.run_process`, the agent's
one process runner (also behind policy scripts); the installers call it through
:data:`Runner` so tests can hand them recorded results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.processes import run_process

MAX_OUTPUT_CHARS = 16 * 1024


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    code: int | None
    """The exit code; None when the process was killed after ``timed_out`` or could not start."""
    output: str
    timed_out: bool = False
    error: str = ""
    """Why the command could not start (missing executable, permission), else empty."""


Runner = Callable[..., Completed]
"""``runner(argv, *, timeout, env=None, cwd=None, max_output_chars=...)``: what the installers call to run a command.

Only :mod:`.debtool` raises ``max_output_chars`` (dpkg's whole database); a recorded runner may ignore it.
"""


def run_command(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None,
                cwd: str | None = None, max_output_chars: int = MAX_OUTPUT_CHARS) -> Completed:
    """Run ``argv`` (no shell) with a time limit; never raises for the command's own failure.

    The process mechanics (own process group, the whole group killed on timeout, concurrent
    capped reading) are :func:`agent.processes.run_process`'s; installers inherit the agent's
    environment with ``env`` on top, since package managers need theirs.
    """
    args = tuple(argv)
    try:
        result = run_process(args, env={**os.environ, **(env or {})}, cwd=cwd or Path.cwd(), timeout=timeout,
                             max_stream_chars=max(2, max_output_chars))
    except OSError as exc:
        return Completed(args, None, "", error=f"cannot run {args[0]}: {exc.strerror or exc}")
    if result.timed_out:
        code = None
    elif result.signal is not None:
        code = -result.signal
    else:
        code = _signed(result.exit_code)
    output = "\n".join(part for part in (result.stdout.rstrip("\n"), result.stderr.rstrip("\n")) if part)
    return Completed(args, code, output[-max_output_chars:], timed_out=result.timed_out)


def _signed(code: int | None) -> int | None:
    """Windows reports exit codes as unsigned DWORDs; the maps use the signed form (winget's are negative)."""
    if code is not None and code >= 2**31:
        return code - 2**32
    return code
