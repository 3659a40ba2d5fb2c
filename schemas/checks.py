"""Policy checks: what an agent evaluates on its machine, and the remediation it runs when one fails.

A check is a tagged union on ``type``. Every type says which operating systems can evaluate
it (:data:`CHECK_OS`); on any other OS the agent reports the check as *not applicable*, never
as compliant. A check without ``type`` is a ``script`` check, the shape policies had first.

Each check may name a remediation: a library ``Script`` with parameters, run only in
``enforce`` mode and followed by the check again.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from schemas.packages import OsName
from schemas.resources import DnsLabel, SpecModel
from schemas.scripts import ParameterValue

Pattern = Annotated[str, Field(min_length=1, max_length=1000, description="A Python regular expression.")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Path = Annotated[str, Field(min_length=1, max_length=1000)]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class Remediation(SpecModel):
    """A library Script run in enforce mode when the check fails; the check runs again after it."""

    script: DnsLabel
    params: dict[str, ParameterValue] = Field(default_factory=dict)


class CheckBase(SpecModel):
    name: DnsLabel = Field(description="Unique within the policy; shown in compliance reports.")
    description: str = Field(default="", max_length=2000)
    remediation: Remediation | None = Field(
        default=None, description="A Script (name, or {script, params}) run in enforce mode when the check fails.")

    @field_validator("remediation", mode="before")
    @classmethod
    def _script_name_shorthand(cls, value: Any) -> Any:
        return {"script": value} if isinstance(value, str) else value


class ScriptCheck(CheckBase):
    """Run a library Script; compliant when it exits with ``expectExitCode`` (and output matches)."""

    type: Literal["script"] = "script"
    script: DnsLabel = Field(description="A Script resource (own client's first, then MSP-wide).")
    params: dict[str, ParameterValue] = Field(default_factory=dict)
    expect_exit_code: int = 0
    output_matches: Pattern | None = Field(
        default=None, description="Also require this pattern to match somewhere in standard output.")


class ServiceCheck(CheckBase):
    """A service (systemd unit, Windows service, launchd job) in a state and start mode."""

    type: Literal["service"]
    service: Name
    state: Literal["running", "stopped"] = "running"
    start_mode: Literal["automatic", "manual", "disabled"] | None = None


class ProcessCheck(CheckBase):
    type: Literal["process"]
    process: Name = Field(description="Process name as the OS shows it.")
    running: bool = True


class FileCheck(CheckBase):
    """A file's presence and, optionally, its content, hash and permissions."""

    type: Literal["file"]
    path: Path
    exists: bool = True
    contains: Pattern | None = Field(default=None, description="A line of the file must match this.")
    sha256: Sha256 | None = None
    mode: str | None = Field(default=None, pattern=r"^0?[0-7]{3,4}$",
                             description="Exact permission bits, octal (POSIX only): 0644.")
    owner: Name | None = None

    @model_validator(mode="after")
    def _absent_means_absent(self) -> FileCheck:
        if not self.exists and (self.contains or self.sha256 or self.mode or self.owner):
            raise ValueError("a file that must not exist cannot also have contains/sha256/mode/owner")
        return self


class RegistryCheck(CheckBase):
    """A Windows registry value (``HKLM\\...``); ``equals`` compares its data."""

    type: Literal["registry"]
    key: Path = Field(pattern=r"^(HKLM|HKCU|HKU|HKCR|HKCC)\\")
    value: Name
    exists: bool = True
    equals: str | int | None = None


class PackageCheck(CheckBase):
    """A package in the installed-software inventory, optionally at a minimum or exact version."""

    type: Literal["package"]
    package: Name
    installed: bool = True
    version: str | None = Field(default=None, max_length=100,
                                description="'1.2.3' (exact) or '>=1.2.3' (at least).")


class DiskFreeCheck(CheckBase):
    type: Literal["diskFree"]
    mount: Path | None = Field(default=None, description="One mount point or drive; every volume when omitted.")
    min_free_percent: float | None = Field(default=None, gt=0, le=100)
    min_free_gib: float | None = Field(default=None, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _some_threshold(self) -> DiskFreeCheck:
        if self.min_free_percent is None and self.min_free_gib is None:
            raise ValueError("diskFree needs minFreePercent or minFreeGib")
        return self


class FirewallCheck(CheckBase):
    type: Literal["firewall"]
    enabled: bool = True


class OsUpdateAgeCheck(CheckBase):
    """The newest installed OS update is at most ``maxDays`` old."""

    type: Literal["osUpdateAge"]
    max_days: int = Field(ge=1, le=3650)


class LocalAdminsCheck(CheckBase):
    """Members of the local administrators group (Windows Administrators, sudo/wheel, macOS admin)."""

    type: Literal["localAdmins"]
    allowed: list[Name] = Field(max_length=200)
    match: Literal["subset", "exact"] = Field(
        default="subset", description="subset: no one outside 'allowed'; exact: exactly 'allowed'.")


class ScreenLockCheck(CheckBase):
    type: Literal["screenLock"]
    max_timeout_seconds: int = Field(ge=1, le=86_400)


class DiskEncryptionCheck(CheckBase):
    """BitLocker, FileVault or LUKS on the system volume (or every fixed volume)."""

    type: Literal["diskEncryption"]
    volumes: Literal["system", "all"] = "system"


def _check_tag(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "script"))
    return str(getattr(value, "type", "script"))


Check = Annotated[
    Annotated[ScriptCheck, Tag("script")]
    | Annotated[ServiceCheck, Tag("service")]
    | Annotated[ProcessCheck, Tag("process")]
    | Annotated[FileCheck, Tag("file")]
    | Annotated[RegistryCheck, Tag("registry")]
    | Annotated[PackageCheck, Tag("package")]
    | Annotated[DiskFreeCheck, Tag("diskFree")]
    | Annotated[FirewallCheck, Tag("firewall")]
    | Annotated[OsUpdateAgeCheck, Tag("osUpdateAge")]
    | Annotated[LocalAdminsCheck, Tag("localAdmins")]
    | Annotated[ScreenLockCheck, Tag("screenLock")]
    | Annotated[DiskEncryptionCheck, Tag("diskEncryption")],
    Discriminator(_check_tag),
]
"""One check of any type; ``type`` picks the shape (``script`` when omitted)."""

ALL_OS: frozenset[OsName] = frozenset({"linux", "windows", "macos"})

CHECK_OS: dict[str, frozenset[OsName]] = {
    "script": ALL_OS,
    "service": ALL_OS,
    "process": ALL_OS,
    "file": ALL_OS,
    "registry": frozenset({"windows"}),
    "package": ALL_OS,
    "diskFree": ALL_OS,
    "firewall": ALL_OS,
    "osUpdateAge": ALL_OS,
    "localAdmins": ALL_OS,
    "screenLock": ALL_OS,
    "diskEncryption": ALL_OS,
}
"""Operating systems on which each check type can be evaluated; elsewhere it is not applicable."""
