"""Reading a file or a command's output with a size cap and a timeout; a missing source is ``None``.

Discovery runs on every kind of host: ``/proc/net/ipv6_route`` is absent without IPv6, ``ip`` is absent
from minimal containers, PowerShell may hang. None of that is an error worth more than a debug line, and
none of it may stop the rest of the inventory, so both functions answer ``None`` instead of raising.
Output beyond ``max_bytes`` is cut (a table that long is not a small office's), and a command past its
timeout is killed.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

MAX_BYTES = 4 * 1024 * 1024


def read_text(path: Path, *, max_bytes: int = MAX_BYTES) -> str | None:
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes)
    except OSError as error:
        log.debug("discovery: cannot read %s: %s", path, error)
        return None
    return data.decode("utf-8", errors="replace")


def run_command(argv: Sequence[str], *, timeout: float = 15.0, max_bytes: int = MAX_BYTES) -> str | None:
    """The command's standard output, or ``None`` if it is not installed, fails, or runs past ``timeout``."""
    if not argv or shutil.which(argv[0]) is None:
        log.debug("discovery: %s is not installed here; skipping it", argv[0] if argv else "(no command)")
        return None
    # Output goes to a temporary file, not a pipe, so a chatty command cannot fill our memory: we read
    # at most max_bytes of it afterwards.
    with tempfile.TemporaryFile() as output:
        try:
            completed = subprocess.run(list(argv), stdout=output, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                       timeout=timeout, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            log.debug("discovery: %s did not run: %s", argv[0], error)
            return None
        if completed.returncode != 0:
            log.debug("discovery: %s exited with %d", " ".join(argv), completed.returncode)
            return None
        output.seek(0)
        return output.read(max_bytes).decode("utf-8", errors="replace")
