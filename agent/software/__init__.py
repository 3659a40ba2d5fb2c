"""What is installed on the machine: the ``software`` inventory section.

One module per OS, each reading what that OS's own tools and files say:

* :mod:`agent.software.linux`: dpkg, rpm, snap (snapd's REST API), flatpak;
* :mod:`agent.software.windows`: Uninstall registry keys (machine, 32-bit, each
  loaded user hive) and MSIX/Appx packages, from one PowerShell run;
* :mod:`agent.software.macos`: application bundles and installer receipts.

A source that is absent contributes an empty list; one that fails is logged and
contributes an empty list too, so inventory never stops at a broken package
database. ``effort="lean"`` skips optional per-item work (dpkg install dates)
after a collection went over its CPU budget (:mod:`agent.throttling`).

Every input is capped: the tools' output, each plist, the number of items (the
protocol's 20 000) and each field (the schema's lengths). The result is sorted and
de-duplicated, so the same machine always hashes the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from agent.facts import current_os
from agent.software.linux import LinuxPlaces, collect_linux
from agent.software.macos import MacPlaces, collect_macos
from agent.software.tools import Effort
from agent.software.windows import collect_windows
from schemas.protocol import SoftwareItem

log = logging.getLogger(__name__)

MAX_SOFTWARE_ITEMS = 20_000

__all__ = ["MAX_SOFTWARE_ITEMS", "Places", "collect_software"]


@dataclass(frozen=True)
class Places:
    """Where the collectors look on each OS; the defaults are the real locations."""

    linux: LinuxPlaces = field(default_factory=LinuxPlaces)
    macos: MacPlaces = field(default_factory=MacPlaces)


def collect_software(effort: Effort = "full", *, search_path: str | None = None, os_name: str | None = None,
                     places: Places | None = None) -> list[SoftwareItem]:
    """Installed software, sorted and unique. ``search_path`` overrides PATH and ``places``
    the folders read (tests); ``os_name`` defaults to this machine's."""
    places = places or Places()
    os_name = os_name or current_os()
    if os_name == "linux":
        items = collect_linux(effort, search_path, places.linux)
    elif os_name == "windows":
        items = collect_windows(search_path)
    elif os_name == "macos":
        items = collect_macos(places.macos)
    else:
        items = []
    unique = sorted(set(items), key=lambda item: (item.source, item.name, item.arch, item.version,
                                                  item.publisher, str(item.install_date)))
    if len(unique) > MAX_SOFTWARE_ITEMS:
        log.warning("%d software items found; only the first %d are reported", len(unique), MAX_SOFTWARE_ITEMS)
        unique = unique[:MAX_SOFTWARE_ITEMS]
    return unique
