"""Running one installer command: the single execution seam of the installer package.

:func:`run_command` starts a process in its own process group (session on POSIX,
``CREATE_NEW_PROCESS_GROUP`` on Windows), waits at most ``timeout`` seconds and,
on a timeout, kills the whole tree: an installer that hangs usually hangs in a
child it started. Output (stdout and stderr together) goes to a temporary file,
not a pipe, so a chatty installer cannot block on a full pipe; only its tail is
kept. The script runner written for policies (``agent/scripting.py``) may take
this function's place later: everything here calls it through :data:`Runner`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

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
"""``runner(argv, *, timeout, env=None, cwd=None)``: what the installers call to run a command."""


def run_command(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None,
                cwd: str | None = None, max_output_chars: int = MAX_OUTPUT_CHARS) -> Completed:
    """Run ``argv`` (no shell) with a time limit; never raises for the command's own failure."""
    args = tuple(argv)
    environment = {**os.environ, **env} if env else None
    options: dict[str, object] = {}
    if sys.platform == "win32":
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                       env=environment, cwd=cwd, **options)  # type: ignore[call-overload]
        except OSError as exc:
            return Completed(args, None, "", error=f"cannot run {args[0]}: {exc.strerror or exc}")
        timed_out = False
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_tree(process)
            code = None
        return Completed(args, _signed(code), _tail(output, max_output_chars), timed_out=timed_out)


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(process.pid)], capture_output=True, check=False)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _signed(code: int | None) -> int | None:
    """Windows reports exit codes as unsigned DWORDs; the maps use the signed form (winget's are negative)."""
    if code is not None and code >= 2**31:
        return code - 2**32
    return code


def _tail(handle: IO[bytes], limit: int) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - limit * 4))
    return handle.read().decode("utf-8", "replace")[-limit:]
