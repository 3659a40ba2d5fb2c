"""What an installer's exit code means, per installer type.

Each type has a default table (code -> meaning, with the documented reason);
the Package's ``exitCodes`` override or extend it. A code in neither is a
failure that says so: guessing "probably fine" is how broken installs get
reported green. Codes are compared in their signed 32-bit form, so winget's
``0x8A150061`` matches whether the OS reported it signed or unsigned, and
whether the YAML wrote it in hex, as a negative or as an unsigned number.

Sources: Windows Installer error codes (learn.microsoft.com, "MsiExec.exe and
InstMsi.exe error messages"), winget's doc/windows/package-manager/winget/
returnCodes.md, Chocolatey's documented exit codes (0, 1641, 3010, 350, 1604).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.packages import ExitMeaning, RebootBehaviour

Table = Mapping[int, tuple[ExitMeaning, str]]

_REBOOTS: Table = {
    3010: ("rebootSoft", "ERROR_SUCCESS_REBOOT_REQUIRED: succeeded, a restart is needed to finish"),
    1641: ("rebootHard", "ERROR_SUCCESS_REBOOT_INITIATED: succeeded, the installer asked for a restart"),
}

MSI: Table = {
    0: ("success", "ERROR_SUCCESS"),
    1707: ("success", "ERROR_PRODUCT_VERSION: installation completed successfully"),
    **_REBOOTS,
    1618: ("retryLater", "ERROR_INSTALL_ALREADY_RUNNING: another installation is in progress"),
    1602: ("failure", "ERROR_INSTALL_USEREXIT: the installation was cancelled"),
    1603: ("failure", "ERROR_INSTALL_FAILURE: fatal error during installation (see the /L*v log)"),
    1605: ("failure", "ERROR_UNKNOWN_PRODUCT: the product is not installed"),
    1619: ("failure", "ERROR_INSTALL_PACKAGE_OPEN_FAILED: the package could not be opened"),
    1620: ("failure", "ERROR_INSTALL_PACKAGE_INVALID: the package is not a valid Windows Installer package"),
    1625: ("failure", "ERROR_INSTALL_PACKAGE_REJECTED: prohibited by system policy"),
    1638: ("failure", "ERROR_PRODUCT_VERSION: another version of this product is already installed"),
}
MSI_UNINSTALL: Table = {
    **MSI,
    1605: ("success", "ERROR_UNKNOWN_PRODUCT: the product is not installed (already absent)"),
    1614: ("success", "ERROR_PRODUCT_UNINSTALLED: the product is uninstalled"),
}

EXE: Table = {0: ("success", "exit code 0"), **_REBOOTS,
              1618: ("retryLater", "ERROR_INSTALL_ALREADY_RUNNING: another installation is in progress")}

MSIX: Table = {0: ("success", "Add-AppxPackage completed")}


def _winget(code: int) -> int:
    return code - 2**32


WINGET: Table = {
    0: ("success", "winget: succeeded"),
    **_REBOOTS,
    _winget(0x8A150061): ("success", "APPINSTALLER_CLI_ERROR_PACKAGE_ALREADY_INSTALLED"),
    _winget(0x8A15002B): ("success", "APPINSTALLER_CLI_ERROR_UPDATE_NOT_APPLICABLE: no applicable upgrade"),
    _winget(0x8A150109): ("rebootSoft", "APPINSTALLER_CLI_ERROR_INSTALL_REBOOT_REQUIRED_TO_FINISH"),
    _winget(0x8A15010B): ("rebootHard", "APPINSTALLER_CLI_ERROR_INSTALL_REBOOT_INITIATED"),
    _winget(0x8A15010A): ("retryLater", "APPINSTALLER_CLI_ERROR_INSTALL_REBOOT_REQUIRED_TO_INSTALL: restart, "
                                        "then try again"),
    _winget(0x8A150101): ("retryLater", "APPINSTALLER_CLI_ERROR_INSTALL_PACKAGE_IN_USE: the application is running"),
    _winget(0x8A150102): ("retryLater", "APPINSTALLER_CLI_ERROR_INSTALL_INSTALL_IN_PROGRESS"),
    _winget(0x8A150103): ("retryLater", "APPINSTALLER_CLI_ERROR_INSTALL_FILE_IN_USE"),
    _winget(0x8A150014): ("failure", "APPINSTALLER_CLI_ERROR_NO_APPLICATIONS_FOUND: no package with that id"),
    _winget(0x8A150105): ("failure", "APPINSTALLER_CLI_ERROR_INSTALL_DISK_FULL"),
    _winget(0x8A15010E): ("failure", "APPINSTALLER_CLI_ERROR_INSTALL_DOWNGRADE: a higher version is installed"),
    _winget(0x8A15010F): ("failure", "APPINSTALLER_CLI_ERROR_INSTALL_BLOCKED_BY_POLICY"),
}

CHOCO: Table = {
    0: ("success", "choco: succeeded"),
    **_REBOOTS,
    350: ("retryLater", "choco: a pending reboot was detected, no action has occurred"),
    1604: ("retryLater", "choco: install suspended, incomplete (reboot first)"),
    1: ("failure", "choco: the operation failed (see the output)"),
}

POSIX: Table = {0: ("success", "exit code 0"), 1: ("failure", "exit code 1: the tool reported an error")}
APT: Table = {0: ("success", "exit code 0"),
              100: ("failure", "apt-get: an error occurred (see the output)")}
DPKG: Table = {0: ("success", "exit code 0"), 1: ("failure", "dpkg: the action failed"),
               2: ("failure", "dpkg: fatal or unrecoverable error")}

DEFAULTS: dict[str, Table] = {
    "msi": MSI, "exe": EXE, "msix": MSIX, "winget": WINGET, "choco": CHOCO,
    "pkg": POSIX, "dmg": POSIX, "brew": POSIX, "deb": {**APT, **DPKG}, "apt": APT, "rpm": POSIX, "dnf": POSIX,
    "script": {0: ("success", "exit code 0")},
}
UNINSTALL_DEFAULTS: dict[str, Table] = {**DEFAULTS, "msi": MSI_UNINSTALL}

RETRY_AFTER_SECONDS = 600
"""How long a "retry later" waits by default: another installation or a file in use is usually done
within minutes."""
RETRY_AFTER_REBOOT_SECONDS = 3600
"""How long it waits when the installer wants a restart first: the agent never reboots, so trying again
every few minutes would only repeat the answer until someone (or the window's reboot) restarts the machine."""
_AFTER_REBOOT: frozenset[tuple[str, int]] = frozenset({
    ("choco", 350), ("choco", 1604), ("winget", _winget(0x8A15010A))})


_HELD_LOCK = {
    # dpkg and apt-get end with their ordinary failure codes (2, 100) when another process (an
    # unattended upgrade, an administrator's apt) holds the package database; their messages tell it.
    "deb": ("dpkg frontend lock was locked by another process", "dpkg status database is locked by another process",
            "Could not get lock /var/lib/dpkg/", "Unable to acquire the dpkg frontend lock"),
    "apt": ("Could not get lock /var/lib/dpkg/", "Unable to acquire the dpkg frontend lock",
            "dpkg frontend lock was locked by another process"),
    "rpm": ("can't create transaction lock on",),
    "dnf": ("can't create transaction lock on",),
}


def held_package_lock(kind: str, output: str) -> bool:
    """Whether a failed ``kind`` install failed only because another process held the package database."""
    return any(message in output for message in _HELD_LOCK.get(kind, ()))


@dataclass(frozen=True)
class Verdict:
    meaning: ExitMeaning
    code: int | None
    text: str
    retry_after_seconds: int | None = None
    """With ``retryLater``: how long to wait before the next attempt."""

    @property
    def succeeded(self) -> bool:
        return self.meaning in ("success", "rebootSoft", "rebootHard")

    @property
    def reboot(self) -> str:
        """"" (none), "soft" or "hard"."""
        return {"rebootSoft": "soft", "rebootHard": "hard"}.get(self.meaning, "")


def signed32(code: int) -> int:
    code &= 0xFFFFFFFF
    return code - 2**32 if code >= 2**31 else code


def classify(kind: str, code: int, overrides: Mapping[int, ExitMeaning], *, uninstall: bool = False,
             reboot: RebootBehaviour = "ifRequired") -> Verdict:
    """The meaning of ``code`` for a ``kind`` installer: the Package's map first, then the type's table."""
    code = signed32(code)
    mine = {signed32(key): value for key, value in overrides.items()}
    table = (UNINSTALL_DEFAULTS if uninstall else DEFAULTS)[kind]
    if code in mine:
        meaning, text = mine[code], f"exit code {code}: {mine[code]} (the Package's exitCodes)"
    elif code in table:
        meaning, text = table[code][0], f"exit code {code}: {table[code][1]}"
    else:
        return Verdict("failure", code, f"exit code {code} ({_hex(code)}) is not in the exit-code map of "
                                        f"'{kind}' installers; add it to exitCodes if it means success")
    if reboot == "never" and meaning in ("rebootSoft", "rebootHard"):
        return Verdict("success", code, text + "; reboot: never, so no restart is requested")
    if meaning == "retryLater":
        wait = RETRY_AFTER_REBOOT_SECONDS if (kind, code) in _AFTER_REBOOT else RETRY_AFTER_SECONDS
        return Verdict(meaning, code, text, retry_after_seconds=wait)
    return Verdict(meaning, code, text)


def _hex(code: int) -> str:
    return f"0x{code & 0xFFFFFFFF:08X}"
