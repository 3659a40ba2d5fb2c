"""What the OS package managers say is installed: the ``software`` inventory section.

Linux: ``dpkg-query`` (installed packages only, maintainer as publisher) and
``rpm`` when present; a machine may have both. A tool that is not installed
contributes an empty list; a tool that fails or hangs is logged and contributes
an empty list too, so inventory never stops at a broken package database.
Windows and macOS collectors (registry, pkgutil) are not written yet and return
an empty list.

Every input is capped: the tools' output (``MAX_TOOL_OUTPUT_BYTES``), the number
of items (the protocol's 20 000) and each field (the schema's lengths).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from agent.facts import current_os
from schemas.protocol import SoftwareItem, SoftwareSource

log = logging.getLogger(__name__)

MAX_TOOL_OUTPUT_BYTES = 32 * 1024 * 1024
MAX_SOFTWARE_ITEMS = 20_000
TOOL_TIMEOUT_SECONDS = 120.0

# Tab-separated; the first dpkg column is the status abbreviation ("ii" = installed).
DPKG_FORMAT = "${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${Maintainer}\\n"
RPM_FORMAT = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\n"


@dataclass(frozen=True)
class Tool:
    source: SoftwareSource
    argv: tuple[str, ...]


DPKG = Tool("dpkg", ("dpkg-query", "-W", "-f", DPKG_FORMAT))
RPM = Tool("rpm", ("rpm", "-qa", "--qf", RPM_FORMAT))


def run_tool(tool: Tool, search_path: str | None = None) -> str | None:
    """The tool's stdout, or None when it is missing, fails, hangs or talks too much."""
    executable = shutil.which(tool.argv[0], path=search_path)
    if executable is None:
        log.debug("%s not found; no %s software listed", tool.argv[0], tool.source)
        return None
    # Output goes to temporary files, not pipes: the timeout still works and a tool that
    # floods its output costs disk, not memory, before the cap is checked.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        try:
            completed = subprocess.run(
                [executable, *tool.argv[1:]], stdout=stdout, stderr=stderr, timeout=TOOL_TIMEOUT_SECONDS,
                stdin=subprocess.DEVNULL, check=False,
            )
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


def _item(source: SoftwareSource, name: str, version: str, arch: str, publisher: str) -> SoftwareItem | None:
    name = name.strip()[:500]
    if not name:
        return None
    return SoftwareItem(name=name, version=version.strip()[:200], source=source, arch=arch.strip()[:50],
                        publisher=publisher.strip()[:500])


def parse_dpkg(text: str) -> list[SoftwareItem]:
    items = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 5:
            continue
        status, name, version, arch, maintainer = fields
        # Second letter of the abbreviation is the current state; "i" = installed. Packages
        # removed with their config files left behind ("rc") are not software on the machine.
        if len(status) < 2 or status[1] != "i":
            continue
        item = _item("dpkg", name, version, arch, maintainer)
        if item is not None:
            items.append(item)
    return items


def parse_rpm(text: str) -> list[SoftwareItem]:
    items = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        name, version, arch, vendor = fields
        if vendor == "(none)":
            vendor = ""
        item = _item("rpm", name, version, arch, vendor)
        if item is not None:
            items.append(item)
    return items


def collect_software(search_path: str | None = None) -> list[SoftwareItem]:
    """Installed software, sorted for a stable hash; ``search_path`` overrides PATH (tests)."""
    if current_os() != "linux":
        return []
    items: list[SoftwareItem] = []
    for tool, parse in ((DPKG, parse_dpkg), (RPM, parse_rpm)):
        text = run_tool(tool, search_path)
        if text is not None:
            items.extend(parse(text))
    items.sort(key=lambda item: (item.source, item.name, item.arch, item.version))
    if len(items) > MAX_SOFTWARE_ITEMS:
        log.warning("%d software items found; only the first %d are reported", len(items),
                    MAX_SOFTWARE_ITEMS)
        items = items[:MAX_SOFTWARE_ITEMS]
    return items
