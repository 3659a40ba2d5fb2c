"""macOS software: application bundles and installer package receipts, read as files.

* **Bundles** (source ``app``): ``/Applications/*.app`` and each user's
  ``~/Applications/*.app``. ``Contents/Info.plist`` gives the name
  (``CFBundleDisplayName``, else ``CFBundleName``, else the folder name), the
  version (``CFBundleShortVersionString``, else ``CFBundleVersion``) and the
  bundle identifier.
* **Receipts** (source ``pkgutil``): ``/var/db/receipts/*.plist``, one per
  installed package, with ``PackageIdentifier``, ``PackageVersion`` and
  ``InstallDate``. Reading them directly gives what ``pkgutil --pkgs`` plus one
  ``pkgutil --pkg-info-plist`` per package would, without a process per package.

No tool is run at all. ``plistlib`` reads both XML and binary plists. macOS
records no publisher for either; like other inventory agents we take the
organisation part of the reverse-DNS identifier (``org.mozilla.firefox`` gives
``mozilla``) so items can at least be grouped by vendor. Every plist read is
capped in size, and an unreadable one is skipped with a debug log.
"""

from __future__ import annotations

import contextlib
import logging
import plistlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from agent.software.tools import make_item
from schemas.protocol import SoftwareItem

log = logging.getLogger(__name__)

MAX_PLIST_BYTES = 4 * 1024 * 1024
MAX_BUNDLES_PER_FOLDER = 5000


@dataclass(frozen=True)
class MacPlaces:
    """Where the macOS collectors look; tests point these at temporary folders."""

    applications: Path = Path("/Applications")
    users: Path = Path("/Users")
    receipts: Path = Path("/var/db/receipts")


def read_plist(path: Path) -> dict[str, Any] | None:
    """The plist's top-level dictionary, or None when missing, too large or not a plist dict."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PLIST_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_PLIST_BYTES:
        log.debug("%s is larger than %d bytes; skipped", path, MAX_PLIST_BYTES)
        return None
    try:
        document = plistlib.loads(raw)
    except (plistlib.InvalidFileException, ValueError, OverflowError) as exc:
        log.debug("%s is not a readable plist (%s); skipped", path, exc)
        return None
    return document if isinstance(document, dict) else None


def vendor_of(identifier: object) -> str:
    """``mozilla`` for ``org.mozilla.firefox``; empty for an identifier without a vendor part."""
    if not isinstance(identifier, str):
        return ""
    parts = identifier.split(".")
    return parts[1] if len(parts) >= 3 else ""


def bundle_item(bundle: Path) -> SoftwareItem | None:
    info = read_plist(bundle / "Contents" / "Info.plist")
    if info is None:
        return None
    name = info.get("CFBundleDisplayName") or info.get("CFBundleName") or bundle.name.removesuffix(".app")
    version = info.get("CFBundleShortVersionString") or info.get("CFBundleVersion") or ""
    return make_item("app", name, version, "", vendor_of(info.get("CFBundleIdentifier")))


def receipt_item(path: Path) -> SoftwareItem | None:
    receipt = read_plist(path)
    if receipt is None:
        return None
    identifier = receipt.get("PackageIdentifier")
    installed = receipt.get("InstallDate")
    when: date | None = installed.date() if isinstance(installed, datetime) else None
    return make_item("pkgutil", identifier, receipt.get("PackageVersion"), "", vendor_of(identifier), when)


def application_folders(places: MacPlaces) -> list[Path]:
    """``/Applications`` and every user's ``~/Applications`` that exists."""
    folders = [places.applications]
    with contextlib.suppress(OSError):  # no /Users (or unreadable): only /Applications
        folders += sorted(home / "Applications" for home in places.users.iterdir()
                          if home.is_dir() and not home.name.startswith("."))
    return [folder for folder in folders if folder.is_dir()]


def _children(folder: Path, suffix: str) -> list[Path]:
    try:
        found = sorted(path for path in folder.iterdir() if path.name.endswith(suffix))
    except OSError:
        return []
    if len(found) > MAX_BUNDLES_PER_FOLDER:
        log.warning("%s holds more than %d %s entries; only the first are read", folder,
                    MAX_BUNDLES_PER_FOLDER, suffix)
    return found[:MAX_BUNDLES_PER_FOLDER]


def collect_bundles(places: MacPlaces) -> list[SoftwareItem]:
    return [item for folder in application_folders(places) for bundle in _children(folder, ".app")
            if (item := bundle_item(bundle)) is not None]


def collect_receipts(places: MacPlaces) -> list[SoftwareItem]:
    return [item for path in _children(places.receipts, ".plist") if (item := receipt_item(path)) is not None]


def collect_macos(places: MacPlaces) -> list[SoftwareItem]:
    return collect_bundles(places) + collect_receipts(places)
