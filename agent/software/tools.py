"""Running a package tool and turning its fields into capped ``SoftwareItem`` values.

Every per-OS collector shares the same rules: a tool that is not installed
contributes nothing (debug log); one that fails, hangs or floods its output is
logged and contributes nothing, so inventory never stops at a broken package
database. Tools run at low priority (:func:`agent.throttling.child_priority`),
and their output goes to temporary files, not pipes, so the timeout still works
and a flood costs disk, not memory, before the cap is checked.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date

from agent.throttling import Effort, child_priority
from schemas.protocol import SoftwareItem, SoftwareSource

log = logging.getLogger(__name__)

MAX_TOOL_OUTPUT_BYTES = 32 * 1024 * 1024
TOOL_TIMEOUT_SECONDS = 120.0

__all__ = ["MAX_TOOL_OUTPUT_BYTES", "Effort", "Tool", "make_item", "run_tool"]


@dataclass(frozen=True)
class Tool:
    source: SoftwareSource
    argv: tuple[str, ...]


def run_tool(tool: Tool, search_path: str | None = None, *, timeout: float = TOOL_TIMEOUT_SECONDS) -> str | None:
    """The tool's stdout, or None when it is missing, fails, hangs or talks too much."""
    executable = shutil.which(tool.argv[0], path=search_path)
    if executable is None:
        log.debug("%s not found; no %s software listed", tool.argv[0], tool.source)
        return None
    argv, options = child_priority([executable, *tool.argv[1:]], search_path)
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        try:
            completed = subprocess.run(argv, stdout=stdout, stderr=stderr, timeout=timeout,
                                       stdin=subprocess.DEVNULL, check=False, **options)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("%s could not run: %s; no %s software listed", tool.argv[0], exc, tool.source)
            return None
        if completed.returncode != 0:
            stderr.seek(0)
            detail = stderr.read(500).decode("utf-8", "replace").strip()
            log.warning("%s exited with %d (%s); no %s software listed", tool.argv[0],
                        completed.returncode, detail or "no message", tool.source)
            return None
        stdout.seek(0)
        raw = stdout.read(MAX_TOOL_OUTPUT_BYTES + 1)
    if len(raw) > MAX_TOOL_OUTPUT_BYTES:
        log.warning("%s printed more than %d bytes; no %s software listed", tool.argv[0],
                    MAX_TOOL_OUTPUT_BYTES, tool.source)
        return None
    return raw.decode("utf-8", "replace")


def make_item(source: SoftwareSource, name: object, version: object = "", arch: object = "",
              publisher: object = "", install_date: date | None = None) -> SoftwareItem | None:
    """A capped item from untrusted fields (anything not a string counts as empty); None without a name."""
    name = _text(name, 500)
    if not name:
        return None
    return SoftwareItem(name=name, version=_text(version, 200), source=source, arch=_text(arch, 50),
                        publisher=_text(publisher, 500), install_date=install_date)


def _text(value: object, limit: int) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value.strip()[:limit] if isinstance(value, str) else ""
