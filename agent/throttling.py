"""Keeping inventory collection polite: low CPU priority and a CPU budget per collection.

The agent runs on people's laptops, so collecting inventory must never make the
machine feel slow. Two mechanisms:

* **Priority.** :func:`run_at_low_priority` collects in a short-lived thread that
  lowers its own priority first (Linux: niceness is per thread, so
  ``setpriority(PRIO_PROCESS, <native thread id>, 10)`` touches only that thread,
  and only the agent's main thread keeps its normal priority for check-ins and
  jobs; Windows: ``THREAD_PRIORITY_BELOW_NORMAL``). Package tools the collectors
  start inherit the thread's niceness on Linux; :func:`child_priority` makes sure
  of it anyway (``nice -n``) and asks Windows for ``BELOW_NORMAL_PRIORITY_CLASS``.
  An unprivileged process cannot raise a priority again, which is why the work
  happens in a thread that then ends rather than in the agent's own thread.
* **Budget.** The CPU the collection used (its thread plus the child processes
  it waited for) is measured with an injectable meter; going over the budget
  logs a warning, and :meth:`CpuBudget.effort_after` makes the next collection
  ``lean`` (optional per-item work such as install dates is skipped).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

LOW_NICENESS = 10
"""Niceness of the collecting thread and its children (0 normal, 19 lowest)."""

Effort = Literal["full", "lean"]
"""``lean`` skips optional per-item work (install dates) after a collection went over its CPU budget."""

CpuMeter = Callable[[], float]
"""CPU seconds used so far by the calling thread and the child processes waited for."""

Result = TypeVar("Result")


def thread_and_children_cpu() -> float:
    """The default meter: this thread's CPU time plus that of every child process reaped so far."""
    seconds = time.thread_time()
    if sys.platform != "win32":
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds += children.ru_utime + children.ru_stime
    return seconds


def current_niceness() -> int | None:
    """The calling thread's niceness where the OS tells it per thread (Linux) or per process."""
    if sys.platform == "win32":
        return None
    who = threading.get_native_id() if sys.platform.startswith("linux") else 0
    try:
        return os.getpriority(os.PRIO_PROCESS, who)
    except OSError:
        return None


def lower_thread_priority() -> None:
    """Lower the calling thread's priority; best effort, a failure is only logged."""
    try:
        if sys.platform == "win32":
            import ctypes

            below_normal = -1
            kernel32 = ctypes.windll.kernel32
            kernel32.SetThreadPriority(kernel32.GetCurrentThread(), below_normal)
        elif sys.platform.startswith("linux"):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, max(os.getpriority(os.PRIO_PROCESS, thread), LOW_NICENESS))
        else:
            # macOS and the BSDs set niceness per process; child_priority() lowers the tools instead.
            log.debug("thread priority is per process on %s; only child tools run niced", sys.platform)
    except OSError as exc:
        log.debug("could not lower the collecting thread's priority: %s", exc)


def child_priority(argv: list[str], search_path: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """``argv`` and ``subprocess`` options that start a tool at low priority.

    On Linux a child inherits the niceness of the thread that starts it, so nothing
    changes when that thread is already low; otherwise ``nice -n`` wraps the tool
    (``nice`` is looked up on ``search_path`` or PATH; without it the tool runs as is).
    """
    if sys.platform == "win32":
        return argv, {"creationflags": subprocess.BELOW_NORMAL_PRIORITY_CLASS}
    current = current_niceness()
    if current is None or current >= LOW_NICENESS:
        return argv, {}
    nice = shutil.which("nice", path=search_path) or shutil.which("nice")
    if nice is None:
        return argv, {}
    return [nice, "-n", str(LOW_NICENESS - current), *argv], {}


def run_at_low_priority(work: Callable[[], Result], meter: CpuMeter = thread_and_children_cpu) \
        -> tuple[Result, float]:
    """Run ``work`` in a fresh low-priority thread; its result and the CPU seconds it used.

    An exception inside ``work`` is raised here, in the caller's thread.
    """
    outcome: list[Result] = []
    failure: list[BaseException] = []
    used: list[float] = []

    def body() -> None:
        lower_thread_priority()
        start = meter()
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
        finally:
            used.append(max(0.0, meter() - start))

    thread = threading.Thread(target=body, name="fleetward-inventory", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0], used[0]


@dataclass(frozen=True)
class CpuBudget:
    """How much CPU one collection may use before the next one gets lean."""

    seconds: float

    def check(self, used: float, what: str = "inventory collection") -> bool:
        """True (and a warning logged) when ``used`` is over the budget."""
        if used <= self.seconds:
            return False
        log.warning("%s used %.2f s of CPU, over its %.2f s budget; the next one skips optional work "
                    "(install dates). Raise the budget in the agent settings if this machine is just slow",
                    what, used, self.seconds)
        return True

    def effort_after(self, previous_cpu_seconds: float | None) -> Effort:
        """``lean`` when the previous collection went over the budget, else ``full``."""
        if previous_cpu_seconds is not None and previous_cpu_seconds > self.seconds:
            return "lean"
        return "full"
