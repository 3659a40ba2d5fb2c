"""Running a process so that it cannot outlive, outgrow or outwait the agent.

:func:`run_process` is the one place the agent starts scripts and check commands:

* a new session (POSIX: the child leads its own process group) or a new process group (Windows);
  on timeout the *whole* group is killed with SIGKILL (Windows: ``taskkill /T /F``), grandchildren
  included. When the leader exits on its own, whatever it left running in its group is killed
  too, so a forgotten ``sleep &`` holding the output pipe open cannot hang the agent. A process
  that escaped the group (``setsid``) and keeps the pipe open is waited for :data:`DRAIN_SECONDS`,
  then abandoned and reported (``left_running``);
* stdout and stderr are read concurrently (``select`` on POSIX, a thread per pipe on Windows) and
  only the head and the tail of each are kept, the cut marked, so a flood costs neither memory nor
  the last line, which carries a check script's evidence;
* output is decoded as UTF-8 with ``errors="replace"``: bytes that are not UTF-8 become U+FFFD;
* optionally as another local POSIX user (:class:`Account`: uid, gid and supplementary groups are
  set by ``subprocess`` before the program starts).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.limits import MAX_JOB_OUTPUT_CHARS

MAX_STREAM_CHARS = MAX_JOB_OUTPUT_CHARS // 2
"""Kept of stdout and of stderr each, so both together fit a job result's output."""

MAX_EVIDENCE_CHARS = 500
DRAIN_SECONDS = 2.0
"""How long output is still read after the process (and its group) ended."""

_CHUNK = 64 * 1024
_CUT_MARK = "\n[... {} bytes cut ...]\n"
_MAX_MARK_CHARS = 40


@dataclass(frozen=True)
class RunResult:
    """How a script or command ended and what it printed (capped, decoded)."""

    exit_code: int | None
    """None when a signal ended it."""
    signal: int | None
    timed_out: bool
    duration_seconds: float
    stdout: str
    stderr: str
    stdout_bytes: int
    """Bytes printed in all, including any cut from the middle."""
    stderr_bytes: int
    stdout_cut: int = 0
    """Bytes cut from the middle of stdout (0: ``stdout`` is everything it printed)."""
    left_running: bool = False
    """A process outside the group still held the output open when reading stopped."""

    @property
    def evidence(self) -> str:
        """The last non-empty stdout line, capped: what a check script says about its verdict."""
        for line in reversed(self.stdout.splitlines()):
            if line.strip():
                return line.strip()[:MAX_EVIDENCE_CHARS]
        return ""

    def describe(self) -> str:
        """How it ended, in words: ``exit code 3``, ``killed by SIGSEGV``, ``timed out after 1 s``."""
        if self.timed_out:
            return f"timed out after {self.duration_seconds:.0f} s (process group killed)"
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name}"
        return f"exit code {self.exit_code}"

@dataclass(frozen=True)
class Account:
    """A local POSIX user to run as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def run_process(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | str, timeout: float,
                account: Account | None = None, max_stream_chars: int = MAX_STREAM_CHARS) -> RunResult:
    """Run ``argv`` in its own process group with a timeout that kills the group; never raises for how it ends.

    An ``OSError`` starting it (not executable, ...) propagates: nothing ran.
    """
    started = time.monotonic()
    deadline = started + timeout
    limit = max(2, max_stream_chars - _MAX_MARK_CHARS)
    outputs = (_Capture(limit), _Capture(limit))
    options: dict[str, Any] = {}
    if sys.platform == "win32":
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
    else:
        options["start_new_session"] = True
        if account is not None:
            options.update(user=account.uid, group=account.gid, extra_groups=list(account.groups))
    process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=dict(env), cwd=cwd, close_fds=True, **options)
    try:
        if sys.platform == "win32":
            timed_out, left_running = _pump_threads(process, outputs, deadline)
        else:
            timed_out, left_running = _pump_posix(process, outputs, deadline)
    finally:
        if process.poll() is None:  # only an exception in the pump gets here: leave nothing behind
            _kill_group(process)
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    code = process.returncode
    caught = -code if code is not None and code < 0 else None
    return RunResult(
        exit_code=None if caught is not None else code, signal=caught, timed_out=timed_out,
        duration_seconds=time.monotonic() - started,
        stdout=outputs[0].text(), stderr=outputs[1].text(),
        stdout_bytes=outputs[0].total, stderr_bytes=outputs[1].total, stdout_cut=outputs[0].cut,
        left_running=left_running,
    )


class _Capture:
    """Keeps the first and the last bytes of a stream; counts the rest."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_limit:
                del self.tail[:len(self.tail) - self.tail_limit]

    @property
    def cut(self) -> int:
        return max(0, self.total - len(self.head) - len(self.tail))

    def text(self) -> str:
        cut = self.cut
        if cut <= 0:
            return bytes(self.head + self.tail).decode("utf-8", "replace")
        return (bytes(self.head).decode("utf-8", "replace") + _CUT_MARK.format(cut)
                + bytes(self.tail).decode("utf-8", "replace"))


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the leader exited, without reaping it where the OS allows: while it is an unreaped zombie
    its pid (the group id) cannot be reused, so killing the group afterwards cannot hit a stranger."""
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True
    return process.poll() is not None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(process.pid)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        return
    with suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(process.pid, signal.SIGKILL)


def _pump_posix(process: subprocess.Popen[bytes], outputs: tuple[_Capture, _Capture],
                deadline: float) -> tuple[bool, bool]:
    """Read both pipes until they close; kill the group at the deadline or once the leader exits."""
    timed_out = False
    drain_until: float | None = None
    with selectors.DefaultSelector() as selector:
        for stream, capture in zip((process.stdout, process.stderr), outputs, strict=True):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            selector.register(stream.fileno(), selectors.EVENT_READ, capture)
        while selector.get_map():
            now = time.monotonic()
            if drain_until is None and (_exited(process) or now >= deadline):
                timed_out = not _exited(process)
                _kill_group(process)  # the leader's leftovers, or everything at the deadline
                drain_until = now + DRAIN_SECONDS
            if drain_until is not None and now >= drain_until:
                break
            until = drain_until if drain_until is not None else deadline
            for key, _ in selector.select(timeout=max(0.0, min(until - now, 0.2))):
                try:
                    chunk = os.read(key.fd, _CHUNK)
                except BlockingIOError:
                    continue
                if chunk:
                    key.data.add(chunk)
                else:
                    selector.unregister(key.fd)
        left_running = bool(selector.get_map())
    if drain_until is None:  # it closed both pipes early but may still be running
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    _kill_group(process)
    process.wait()
    return timed_out, left_running


def _pump_threads(process: subprocess.Popen[bytes], outputs: tuple[_Capture, _Capture],
                  deadline: float) -> tuple[bool, bool]:
    """Windows has no select() on pipes: one reader thread per stream, the same deadline and drain rules."""
    readers = []
    for stream, capture in zip((process.stdout, process.stderr), outputs, strict=True):
        assert stream is not None
        reader = threading.Thread(target=_read_all, args=(stream.fileno(), capture), daemon=True)
        reader.start()
        readers.append(reader)
    timed_out = False
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(process)
    process.wait()
    drain_until = time.monotonic() + DRAIN_SECONDS
    for reader in readers:
        reader.join(max(0.0, drain_until - time.monotonic()))
    return timed_out, any(reader.is_alive() for reader in readers)


def _read_all(descriptor: int, capture: _Capture) -> None:
    try:
        while chunk := os.read(descriptor, _CHUNK):
            capture.add(chunk)
    except OSError:
        pass  # closed under us after the drain period
