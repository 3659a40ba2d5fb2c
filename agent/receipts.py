"""Receipts: the agent's record of what Fleetward itself installed.

``receipts/<package>.json`` is written after a package is unpacked into place
and removed after it is uninstalled, so it is the detection rule for archive
packages: a package is installed at version V exactly when its receipt says V
and the receipt's folder exists. The ``managed`` inventory section is the list
of receipts.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.errors import ConfigError
from agent.state import read_json, write_json
from schemas.protocol import ManagedItem

log = logging.getLogger(__name__)

# The same shapes the fleet repo enforces for Package names and versions. Both become
# path components, so they are checked again here, whatever signed them.
PACKAGE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PACKAGE_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,63}$")


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    version: str
    sha256: str
    installed_at: datetime
    path: str

    def managed_item(self) -> ManagedItem:
        return ManagedItem(package=self.package, version=self.version, sha256=self.sha256,
                           installed_at=self.installed_at)


class Receipts:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, package: str) -> Path:
        if not PACKAGE_NAME.fullmatch(package):
            raise ValueError(f"package name {package!r} is not a DNS label")
        return self.folder / f"{package}.json"

    def get(self, package: str) -> Receipt | None:
        path = self._path(package)
        if not path.is_file():
            return None
        return self._read(path)

    def _read(self, path: Path) -> Receipt | None:
        try:
            return Receipt.model_validate(read_json(path))
        except (ConfigError, ValidationError) as exc:
            # Treated as "not installed": the next install job rewrites it.
            log.warning("ignoring unreadable receipt %s: %s", path.name, exc)
            return None

    def put(self, receipt: Receipt) -> None:
        write_json(self._path(receipt.package), receipt.model_dump(mode="json"))

    def remove(self, package: str) -> None:
        self._path(package).unlink(missing_ok=True)

    def all(self) -> list[Receipt]:
        if not self.folder.is_dir():
            return []
        found = (self._read(path) for path in sorted(self.folder.glob("*.json")))
        return [receipt for receipt in found if receipt is not None]
