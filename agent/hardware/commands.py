"""Running an OS tool (PowerShell, system_profiler) for inventory: bounded in time and in output.

The same pattern as :func:`agent.software.run_tool`, generalised: any argv, a timeout and an output
cap chosen by the caller. A missing, failing, hanging or flooding tool yields None and a log line,
never an exception, so inventory goes on without that tool.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024


def run_command(argv: Sequence[str], *, what: str, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                max_bytes: int = DEFAULT_MAX_OUTPUT_BYTES, search_path: str | None = None,
                show_stderr: bool = True) -> str | None:
    """The command's stdout as text, or None when it is missing, fails, hangs or prints too much.

    ``what`` names the inventory part in log lines. ``show_stderr=False`` keeps the tool's error
    text out of the logs, for commands whose output is secret (licence keys).
    """
    executable = shutil.which(argv[0], path=search_path)
    if executable is None:
        log.debug("%s not found; no %s", argv[0], what)
        return None
    # Temporary files, not pipes: the timeout still works, and a tool that floods its output costs
    # disk rather than memory before the cap is checked.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        try:
            completed = subprocess.run([executable, *argv[1:]], stdout=stdout, stderr=stderr, timeout=timeout,
                                       stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            log.warning("%s did not finish within %g s; no %s", argv[0], timeout, what)
            return None
        except OSError as exc:
            log.warning("%s could not run (%s); no %s", argv[0], exc.strerror or type(exc).__name__, what)
            return None
        if completed.returncode != 0:
            detail = "output withheld"
            if show_stderr:
                stderr.seek(0)
                detail = stderr.read(500).decode("utf-8", "replace").strip() or "no message"
            log.warning("%s exited with %d (%s); no %s", argv[0], completed.returncode, detail, what)
            return None
        stdout.seek(0)
        raw = stdout.read(max_bytes + 1)
    if len(raw) > max_bytes:
        log.warning("%s printed more than %d bytes; no %s", argv[0], max_bytes, what)
        return None
    return raw.decode("utf-8", "replace")
