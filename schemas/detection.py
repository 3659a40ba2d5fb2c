"""Detection rules: how the agent tells whether a package is installed.

A Package's installer carries a list of rules. They are not tried in list
order: every rule has a *kind*, and the kinds have a fixed precedence (as Munki
ranks its install checks), highest first:

1. ``packageDb``  the OS package database: ``dpkg`` status, ``rpm`` query, an MSI
   product code (the registry Uninstall keys), a ``pkgutil`` receipt;
2. ``file``       a file or bundle present, optionally with a version;
3. ``registry``   a Windows registry key or value;
4. ``inventory``  a match in the installed-software inventory the agent collects;
5. ``script``     a detection script (exit 0 = installed).

The highest kind present *and evaluable on the device* decides alone, and
all its rules must pass; lower kinds are consulted only when no higher kind
can be evaluated (its tool is missing, say). This keeps a cheap, precise rule
(dpkg) from being overruled by a vague one (a name in the inventory).

A rule's ``version`` is what must be installed. Left out on a package database
or inventory rule, it is the version the job installs (the installer's
``packageVersion`` if set, else the Package's ``version``); left out on a
``file`` or ``registry`` rule (whose versions are the vendor's), only presence
is checked. ``minVersion`` asks for at least that version; ``anyVersion: true``
checks presence only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from schemas.resources import SpecModel

DetectionKind = Literal["packageDb", "file", "registry", "inventory", "script"]
DETECTION_PRECEDENCE: tuple[DetectionKind, ...] = ("packageDb", "file", "registry", "inventory", "script")
"""Highest first. The module docstring explains how the kinds combine."""

MAX_INLINE_SCRIPT_CHARS = 64 * 1024
"""Inline scripts (pre/post install, detection, script installers) are capped: larger ones belong in a file."""

_GUID = r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$"
_PACKAGE_NAME = r"^[A-Za-z0-9][A-Za-z0-9.+_:@/-]{0,199}$"
_VERSION_TEXT = r"^[A-Za-z0-9][A-Za-z0-9.+~:_-]{0,99}$"

Shell = Literal["bash", "sh", "zsh", "powershell", "cmd", "python"]
PackageDbName = Annotated[str, Field(pattern=_PACKAGE_NAME, description="A package name as the OS tools spell it.")]
VersionText = Annotated[str, Field(pattern=_VERSION_TEXT)]


class InlineScript(SpecModel):
    """A short script kept in the Package YAML, so review sees exactly what runs (capped in size)."""

    shell: Shell
    text: str = Field(min_length=1, max_length=MAX_INLINE_SCRIPT_CHARS)
    timeout_seconds: int = Field(default=600, ge=1, le=86_400)


class _Rule(SpecModel):
    version: VersionText | None = None
    any_version: bool = False
    min_version: VersionText | None = Field(
        default=None, description="Installed version must be at least this (instead of equal to 'version').")


class DpkgRule(_Rule):
    type: Literal["dpkg"]
    package: PackageDbName


class RpmRule(_Rule):
    type: Literal["rpm"]
    package: PackageDbName


class MsiRule(_Rule):
    """The product code in the Uninstall keys (64- and 32-bit views); version = DisplayVersion."""

    type: Literal["msi"]
    product_code: str = Field(pattern=_GUID, description="{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}")


class PkgutilRule(_Rule):
    """A macOS installer receipt (``pkgutil --pkg-info-plist <id>``); version = pkg-version."""

    type: Literal["pkgutil"]
    package_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class FileRule(_Rule):
    """A file present. Its version: an ``.app`` bundle's CFBundleShortVersionString on macOS, the file
    version resource on Windows; on Linux only presence (and ``sha256``) can be checked."""

    type: Literal["file"]
    path: str = Field(min_length=1, max_length=1024)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class RegistryRule(_Rule):
    """A key (and optionally a value) under HKLM; with ``version``, the value must equal it."""

    type: Literal["registry"]
    key: str = Field(pattern=r"^(HKLM|HKEY_LOCAL_MACHINE)\\[^\x00]{1,500}$")
    value: str | None = Field(default=None, max_length=255)

    @field_validator("key")
    @classmethod
    def _no_dot_segments(cls, key: str) -> str:
        if "\\\\" in key or key.endswith("\\"):
            raise ValueError("registry key has an empty segment; write HKLM\\SOFTWARE\\Vendor\\Product")
        return key


class InventoryRule(_Rule):
    """An entry of the agent's software inventory whose name equals ``name`` (case-insensitive)."""

    type: Literal["inventory"]
    name: str = Field(min_length=1, max_length=500)


class ScriptRule(SpecModel):
    """Exit code 0 means installed, 1 means not installed; anything else (or a timeout) is an error."""

    type: Literal["script"]
    script: InlineScript


DetectionRule = Annotated[
    DpkgRule | RpmRule | MsiRule | PkgutilRule | FileRule | RegistryRule | InventoryRule | ScriptRule,
    Field(discriminator="type"),
]

RULE_KIND: dict[str, DetectionKind] = {
    "dpkg": "packageDb", "rpm": "packageDb", "msi": "packageDb", "pkgutil": "packageDb",
    "file": "file", "registry": "registry", "inventory": "inventory", "script": "script",
}
RULE_OS: dict[str, frozenset[str]] = {
    "dpkg": frozenset({"linux"}), "rpm": frozenset({"linux"}), "msi": frozenset({"windows"}),
    "pkgutil": frozenset({"macos"}), "registry": frozenset({"windows"}),
    "file": frozenset({"linux", "windows", "macos"}), "inventory": frozenset({"linux", "windows", "macos"}),
    "script": frozenset({"linux", "windows", "macos"}),
}


def rule_kind(rule: DpkgRule | RpmRule | MsiRule | PkgutilRule | FileRule | RegistryRule | InventoryRule
              | ScriptRule) -> DetectionKind:
    return RULE_KIND[rule.type]
