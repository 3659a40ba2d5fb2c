"""The ``licenses`` inventory section: the Windows product keys and activation state the OS exposes.

Windows only: one PowerShell run reads SoftwareLicensingProduct (the Windows application id, products
with a key installed: name, the key's last five characters, activation status, channel) and
SoftwareLicensingService.OA3xOriginalProductKey (the full OEM key embedded in the firmware of
machines sold with Windows). Linux and macOS expose no product keys and report an empty list.

The full key is a secret: it is never logged and never put in an exception message (the controller
stores it sealed). Command failures are logged without the tool's output, validation failures with a
count of errors only, and a malformed key is dropped without saying what it was.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

from agent.facts import current_os
from agent.hardware.commands import run_command
from agent.hardware.values import build, number, records, text
from schemas.inventory import LicenseKeyItem
from schemas.packages import OsName

log = logging.getLogger(__name__)

WINDOWS_APPLICATION_ID = "55c92734-d682-4d71-983e-d6ec3f16059f"
TIMEOUT_SECONDS = 60.0
MAX_OUTPUT_BYTES = 1024 * 1024
MAX_PRODUCTS = 100

# Single quotes only (one command-line argument); '' is a quote inside a PowerShell string.
SCRIPT = r"""
$ErrorActionPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8
$filter = 'PartialProductKey IS NOT NULL AND ApplicationID=''55c92734-d682-4d71-983e-d6ec3f16059f'''
[ordered]@{
  Products = Get-CimInstance -ClassName SoftwareLicensingProduct -Filter $filter |
    Select-Object -Property Name, Description, PartialProductKey, LicenseStatus, ProductKeyChannel
  OA3xOriginalProductKey = (Get-CimInstance -ClassName SoftwareLicensingService).OA3xOriginalProductKey
} | ConvertTo-Json -Depth 3 -Compress
"""

ARGV = ("powershell", "-NoProfile", "-NonInteractive", "-Command", SCRIPT)

Status = Literal["licensed", "unlicensed", "grace", "notification", "unknown"]
# SoftwareLicensingProduct.LicenseStatus: 0 Unlicensed, 1 Licensed, 2 OOBGrace, 3 OOTGrace,
# 4 NonGenuineGrace, 5 Notification, 6 ExtendedGrace.
STATUSES: dict[int, Status] = {0: "unlicensed", 1: "licensed", 2: "grace", 3: "grace", 4: "grace",
                               5: "notification", 6: "grace"}
_PRODUCT_KEY = re.compile(r"^[A-Z0-9]{5}(?:-[A-Z0-9]{5}){4}$")
_PARTIAL_KEY = re.compile(r"^[A-Z0-9]{5}$")
OEM_FIRMWARE_PRODUCT = "Windows (OEM key in firmware)"


def _status(value: object) -> Status:
    code = number(value)  # garbage must read "unknown", not 0 = "unlicensed"
    return STATUSES.get(int(code), "unknown") if code is not None and code.is_integer() else "unknown"


def _key(value: object) -> str:
    key = text(value).upper()
    if key and not _PRODUCT_KEY.match(key):
        log.debug("ignoring the firmware product key: not five groups of five characters")
        return ""
    return key


def parse_license_keys(data: object) -> list[LicenseKeyItem]:
    """Licences from the licensing script's JSON; the firmware key joins the product it activates.

    The OA3 key goes with the product whose partial key is its last five characters; when none
    matches (Windows was reinstalled with another key) it is listed as a product of its own.
    """
    if not isinstance(data, Mapping):
        log.warning("the PowerShell licence query printed %s, not a JSON object; no licence keys",
                    type(data).__name__)
        return []
    firmware_key = _key(data.get("OA3xOriginalProductKey"))
    items: list[LicenseKeyItem] = []
    matched = False
    for product in records(data.get("Products"))[:MAX_PRODUCTS]:
        partial = text(product.get("PartialProductKey")).upper()
        if not _PARTIAL_KEY.match(partial):
            partial = ""
        key = firmware_key if firmware_key and partial and firmware_key.endswith(partial) else ""
        matched = matched or bool(key)
        item = build(LicenseKeyItem, "a licence", product=text(product.get("Name")) or "Windows", key=key,
                     partial_key=partial, channel=text(product.get("ProductKeyChannel")),
                     status=_status(product.get("LicenseStatus")))
        if item is not None:
            items.append(item)
    if firmware_key and not matched:
        item = build(LicenseKeyItem, "the firmware licence", product=OEM_FIRMWARE_PRODUCT, key=firmware_key,
                     partial_key=firmware_key[-5:], channel="OEM:DM")
        if item is not None:
            items.append(item)
    return sorted(items, key=lambda item: (item.product, item.partial_key))


def collect_license_keys(os_name: OsName | None = None, search_path: str | None = None) -> list[LicenseKeyItem]:
    """Licences the OS exposes; never logged. Empty on Linux and macOS.

    ``os_name`` defaults to this machine's OS and ``search_path`` to PATH (tests pass both).
    """
    if (os_name or current_os()) != "windows":
        return []
    output = run_command(ARGV, what="licence keys", timeout=TIMEOUT_SECONDS, max_bytes=MAX_OUTPUT_BYTES,
                         search_path=search_path, show_stderr=False)
    if not output:
        return []
    try:
        data: Any = json.loads(output.lstrip("\ufeff"))
    except ValueError:
        log.warning("the PowerShell licence query printed invalid JSON; no licence keys")
        return []
    return parse_license_keys(data)
