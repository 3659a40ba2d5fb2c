"""Windows software: the Uninstall registry keys and MSIX/Appx packages, from one PowerShell run.

What "Apps & features" shows comes from the Uninstall keys: the 64-bit view
(``HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall``), the 32-bit
view (``HKLM\\SOFTWARE\\WOW6432Node\\...\\Uninstall``) and the per-user keys of
every loaded user hive (``HKU\\<sid>\\Software\\...\\Uninstall``; the agent runs as
SYSTEM, so ``HKCU`` would be its own, empty one). Entries without a DisplayName
or with ``SystemComponent=1`` are hidden there and skipped here;
``WindowsInstaller=1`` marks an MSI product (source ``msi``), anything else is
``registry``. Store and MSIX apps are not in those keys: ``Get-AppxPackage
-AllUsers`` lists them (source ``appx``; the publisher's ``O=`` or ``CN=`` part).

One PowerShell process (starting one costs ~0.3 s of CPU) prints one JSON
document; :func:`parse_windows` is a pure function over it, tested against
recorded output in ``tests/agent/fixtures/software/``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import date
from typing import Any

from agent.software.tools import Tool, make_item, run_tool
from schemas.protocol import SoftwareItem, SoftwareSource

log = logging.getLogger(__name__)

# Arrays are wrapped in @() and passed with -InputObject so one entry still prints as a list;
# the architecture enum is turned into its name ("X64"), which ConvertTo-Json would print as a number.
SCRIPT = r"""
$ErrorActionPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [Text.Encoding]::UTF8
$fields = 'PSChildName','DisplayName','DisplayVersion','Publisher','InstallDate','SystemComponent','WindowsInstaller'
$keys = @(
  @{ hive = 'HKLM'; path = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' },
  @{ hive = 'HKLM32'; path = 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*' }
)
foreach ($user in Get-ChildItem -Path 'Registry::HKEY_USERS') {
  if ($user.PSChildName -notlike '*_Classes') {
    $hive = "Registry::HKEY_USERS\$($user.PSChildName)"
    $keys += @{ hive = 'HKU'; path = "$hive\Software\Microsoft\Windows\CurrentVersion\Uninstall\*" }
  }
}
$uninstall = foreach ($key in $keys) {
  Get-ItemProperty -Path $key.path | Select-Object -Property $fields |
    Select-Object *, @{ n = 'Hive'; e = { $key.hive } }
}
$appx = Get-AppxPackage -AllUsers | Select-Object Name, Version, Publisher, IsFramework,
  @{ n = 'Architecture'; e = { [string]$_.Architecture } }
ConvertTo-Json -Compress -Depth 3 -InputObject @{ uninstall = @($uninstall); appx = @($appx) }
"""


def powershell_tool() -> Tool:
    encoded = base64.b64encode(SCRIPT.encode("utf-16-le")).decode("ascii")
    return Tool("registry", ("powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                             "-EncodedCommand", encoded))


def parse_windows(text: str) -> list[SoftwareItem]:
    """Items from the script's JSON; anything malformed is skipped, never fatal."""
    try:
        document = json.loads(text.lstrip("\ufeff"))
    except ValueError:
        log.warning("the Windows software script did not print JSON; no registry or appx software listed")
        return []
    if not isinstance(document, dict):
        return []
    items = [item for entry in _entries(document.get("uninstall")) if (item := _uninstall_item(entry))]
    items += [item for entry in _entries(document.get("appx")) if (item := _appx_item(entry))]
    return items


def _entries(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = [value]
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _uninstall_item(entry: dict[str, Any]) -> SoftwareItem | None:
    if _flag(entry.get("SystemComponent")):
        return None
    source: SoftwareSource = "msi" if _flag(entry.get("WindowsInstaller")) else "registry"
    arch = "x86" if entry.get("Hive") == "HKLM32" else ""
    return make_item(source, entry.get("DisplayName"), entry.get("DisplayVersion"), arch, entry.get("Publisher"),
                     _yyyymmdd(entry.get("InstallDate")))


def _appx_item(entry: dict[str, Any]) -> SoftwareItem | None:
    architecture = entry.get("Architecture")
    return make_item("appx", entry.get("Name"), entry.get("Version"),
                     architecture.lower() if isinstance(architecture, str) else "",
                     _organisation(entry.get("Publisher")))


def _flag(value: object) -> bool:
    """Registry DWORDs arrive as numbers; a hand-written key may hold the string "1"."""
    return value == 1 or value == "1"


def _yyyymmdd(value: object) -> date | None:
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not re.fullmatch(r"\d{8}", value.strip()):
        return None
    text = value.strip()
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _organisation(value: object) -> str:
    """``O=`` (else ``CN=``) of a publisher's distinguished name: the readable part."""
    if not isinstance(value, str):
        return ""
    parts = dict(_dn_parts(value))
    return parts.get("O") or parts.get("CN") or value


def _dn_parts(text: str) -> list[tuple[str, str]]:
    return [(match[1].upper(), match[2].strip().strip('"'))
            for match in re.finditer(r'(?:^|,)\s*([A-Za-z]+)=("[^"]*"|[^,]*)', text)]


def collect_windows(search_path: str | None = None) -> list[SoftwareItem]:
    text = run_tool(powershell_tool(), search_path)
    return parse_windows(text) if text is not None else []
