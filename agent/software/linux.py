"""Linux software: dpkg, rpm, snap and flatpak; a machine may have several.

* **dpkg** (``dpkg-query -W``, installed packages only, maintainer as publisher).
  The install date is the modification time of ``/var/lib/dpkg/info/<pkg>.list``
  (``<pkg>:<arch>.list`` for multi-arch packages): dpkg rewrites that file when it
  unpacks the package, so it is the date of the last install or upgrade. One
  ``stat`` per package; skipped in ``lean`` collections.
* **rpm** (``rpm -qa``): ``%{INSTALLTIME}`` comes in the same query, so it is free.
* **snap**: the snapd REST API (``GET /v2/snaps`` over ``/run/snapd.socket``)
  rather than ``snap list``: it answers JSON with the publisher and install date
  (``snap list`` has neither date nor a stable column format, and marks verified
  publishers with symbols), and it costs no child process. Reading the list needs
  no privileges.
* **flatpak** (``flatpak list --app --runtime --columns=...``): tab-separated, apps
  and runtimes of every installation; the origin remote (e.g. ``flathub``) stands in
  for the publisher, which flatpak does not record.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from agent.software.tools import MAX_TOOL_OUTPUT_BYTES, Effort, Tool, make_item, run_tool
from schemas.protocol import SoftwareItem

log = logging.getLogger(__name__)

# Tab-separated; the first dpkg column is the status abbreviation ("ii" = installed).
DPKG_FORMAT = "${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${Maintainer}\\n"
RPM_FORMAT = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\t%{INSTALLTIME}\\n"
FLATPAK_COLUMNS = "application,version,arch,origin,installation"

DPKG = Tool("dpkg", ("dpkg-query", "-W", "-f", DPKG_FORMAT))
RPM = Tool("rpm", ("rpm", "-qa", "--qf", RPM_FORMAT))
FLATPAK = Tool("flatpak", ("flatpak", "list", "--app", "--runtime", f"--columns={FLATPAK_COLUMNS}"))

SNAPD_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class LinuxPlaces:
    """Where the Linux collectors look; tests point these at temporary folders."""

    dpkg_info: Path = Path("/var/lib/dpkg/info")
    snapd_socket: Path = Path("/run/snapd.socket")


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
        item = make_item("dpkg", name, version, arch, maintainer)
        if item is not None:
            items.append(item)
    return items


def with_dpkg_install_dates(items: list[SoftwareItem], info_dir: Path) -> list[SoftwareItem]:
    """dpkg items with ``install_date`` from their ``.list`` file's mtime; others unchanged."""
    dated = []
    for item in items:
        if item.source == "dpkg":
            when = _mtime_date(info_dir / f"{item.name}:{item.arch}.list") or _mtime_date(
                info_dir / f"{item.name}.list")
            if when is not None:
                item = item.model_copy(update={"install_date": when})
        dated.append(item)
    return dated


def _mtime_date(path: Path) -> date | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
    except (OSError, ValueError, OverflowError):
        return None


def parse_rpm(text: str) -> list[SoftwareItem]:
    items = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) not in (4, 5):
            continue
        name, version, arch, vendor = fields[:4]
        installed = _epoch_date(fields[4]) if len(fields) == 5 else None
        item = make_item("rpm", name, version, arch, "" if vendor == "(none)" else vendor, installed)
        if item is not None:
            items.append(item)
    return items


def _epoch_date(text: str) -> date | None:
    try:
        return datetime.fromtimestamp(int(text.strip()), UTC).date()
    except (ValueError, OverflowError, OSError):
        return None


def parse_flatpak(text: str) -> list[SoftwareItem]:
    items = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 5 or fields[0].strip().lower() in ("application id", "application"):
            continue  # older flatpak versions print a header row even when not on a terminal
        application, version, arch, origin, _installation = fields
        item = make_item("flatpak", application, version, arch, origin)
        if item is not None:
            items.append(item)
    return items


def parse_snaps(document: Any) -> list[SoftwareItem]:
    """Items from a snapd ``GET /v2/snaps`` answer (``{"type": "sync", "result": [...]}``)."""
    result = document.get("result") if isinstance(document, dict) else None
    if not isinstance(result, list):
        return []
    items = []
    for snap in result:
        if not isinstance(snap, dict):
            continue
        publisher = snap.get("publisher")
        if isinstance(publisher, dict):
            publisher = publisher.get("display-name") or publisher.get("username")
        installed = snap.get("install-date")
        item = make_item("snap", snap.get("name"), snap.get("version"), "", publisher,
                         _iso_date(installed) if isinstance(installed, str) else None)
        if item is not None:
            items.append(item)
    return items


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def read_snaps(socket: Path, *, timeout: float = SNAPD_TIMEOUT_SECONDS) -> list[SoftwareItem]:
    """Installed snaps from snapd; empty when snapd is absent, and logged when it misbehaves."""
    if not socket.exists():
        log.debug("%s does not exist; no snap software listed", socket)
        return []
    transport = httpx.HTTPTransport(uds=str(socket))
    try:
        with httpx.Client(transport=transport, base_url="http://localhost", timeout=timeout) as client, \
                client.stream("GET", "/v2/snaps") as response:
            raw = bytearray()
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > MAX_TOOL_OUTPUT_BYTES:
                    log.warning("snapd answered more than %d bytes; no snap software listed",
                                MAX_TOOL_OUTPUT_BYTES)
                    return []
            status = response.status_code
    except httpx.HTTPError as exc:
        log.warning("snapd at %s could not be asked (%s); no snap software listed", socket, exc)
        return []
    if status != 200:
        log.warning("snapd answered HTTP %d to GET /v2/snaps; no snap software listed", status)
        return []
    try:
        return parse_snaps(json.loads(raw))
    except ValueError:
        log.warning("snapd's answer to GET /v2/snaps is not JSON; no snap software listed")
        return []


def collect_linux(effort: Effort, search_path: str | None, places: LinuxPlaces) -> list[SoftwareItem]:
    items: list[SoftwareItem] = []
    dpkg = run_tool(DPKG, search_path)
    if dpkg is not None:
        packages = parse_dpkg(dpkg)
        items.extend(with_dpkg_install_dates(packages, places.dpkg_info) if effort == "full" else packages)
    for tool, parse in ((RPM, parse_rpm), (FLATPAK, parse_flatpak)):
        text = run_tool(tool, search_path)
        if text is not None:
            items.extend(parse(text))
    items.extend(read_snaps(places.snapd_socket))
    return items
