"""Policy checks: what an agent evaluates on its machine, and the remediation it runs when one fails.

A check is a tagged union on ``type``. Every type says which operating systems can evaluate
it (:data:`CHECK_OS`); on any other OS the agent reports the check as *not applicable*, never
as compliant. A check without ``type`` is a ``script`` check, the shape policies had first.

Each check may name a remediation: a library ``Script`` with parameters, run only in
``enforce`` mode and followed by the check again.

Conflicts. A check that sets something on the machine has an :meth:`~CheckBase.identity` (what it
is about: one service, process, file, registry value, package, the firewall, the local admins);
two checks with the same identity that cannot both hold (:meth:`~CheckBase.disagreement`) on a
device both policies reach are a conflict the loader rejects. Bounds are not settings: two
``diskFree``, ``osUpdateAge``, ``screenLock`` or ``diskEncryption`` checks can always both hold
(the stricter decides), and what a ``script`` check looks at cannot be known; they have no identity.
Names compare as the OS does: service, process, registry and package names ignore case, file paths
do not.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from schemas.packages import OsName
from schemas.resources import DnsLabel, SpecModel
from schemas.scripts import ParameterValue
from schemas.versions import compare_versions

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

    def identity(self) -> tuple[str, ...] | None:
        """What on the machine this check sets; None when two checks of this type never contradict."""
        return None

    def disagreement(self, other: CheckBase) -> str | None:
        """Why this and ``other`` (same identity) cannot both hold, as 'x here, y there'; None when they can."""
        return None


def _differ(field: str, mine: object, theirs: object) -> str | None:
    """'field A here, B there' when both are set and differ."""
    if mine is None or theirs is None or mine == theirs:
        return None
    return f"{field} {_shown(mine)} here, {_shown(theirs)} there"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | frozenset | set):
        return "[" + ", ".join(sorted(str(item) for item in value)) + "]"
    return str(value)


def _first(*reasons: str | None) -> str | None:
    return next((reason for reason in reasons if reason is not None), None)


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

    def identity(self) -> tuple[str, ...] | None:
        return ("service", self.service.casefold())

    def disagreement(self, other: CheckBase) -> str | None:
        assert isinstance(other, ServiceCheck)
        return _first(_differ("state", self.state, other.state),
                      _differ("startMode", self.start_mode, other.start_mode))


class ProcessCheck(CheckBase):
    type: Literal["process"]
    process: Name = Field(description="Process name as the OS shows it.")
    running: bool = True

    def identity(self) -> tuple[str, ...] | None:
        return ("process", self.process.casefold())

    def disagreement(self, other: CheckBase) -> str | None:
        assert isinstance(other, ProcessCheck)
        return _differ("running", self.running, other.running)


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

    def identity(self) -> tuple[str, ...] | None:
        return ("file", self.path)

    def disagreement(self, other: CheckBase) -> str | None:
        """Two ``contains`` patterns can both match; different hashes, modes, owners or presence cannot."""
        assert isinstance(other, FileCheck)
        mode = (None if self.mode is None or other.mode is None or int(self.mode, 8) == int(other.mode, 8)
                else f"mode {self.mode} here, {other.mode} there")
        return _first(_differ("exists", self.exists, other.exists), _differ("sha256", self.sha256, other.sha256),
                      mode, _differ("owner", self.owner, other.owner))


class RegistryCheck(CheckBase):
    """A Windows registry value (``HKLM\\...``); ``equals`` compares its data."""

    type: Literal["registry"]
    key: Path = Field(pattern=r"^(HKLM|HKCU|HKU|HKCR|HKCC)\\")
    value: Name
    exists: bool = True
    equals: str | int | None = None

    def identity(self) -> tuple[str, ...] | None:
        return ("registry", self.key.casefold(), self.value.casefold())

    def disagreement(self, other: CheckBase) -> str | None:
        assert isinstance(other, RegistryCheck)
        equals = (None if self.equals is None or other.equals is None or str(self.equals) == str(other.equals)
                  else f"equals {self.equals} here, {other.equals} there")
        return _first(_differ("exists", self.exists, other.exists), equals)


class PackageCheck(CheckBase):
    """A package in the installed-software inventory, optionally at a minimum or exact version."""

    type: Literal["package"]
    package: Name
    installed: bool = True
    version: str | None = Field(default=None, max_length=100,
                                description="'1.2.3' (exact) or '>=1.2.3' (at least).")

    def identity(self) -> tuple[str, ...] | None:
        return ("package", self.package.casefold())

    def disagreement(self, other: CheckBase) -> str | None:
        """Installed or not; two exact versions, or an exact one below the other's minimum."""
        assert isinstance(other, PackageCheck)
        if self.installed != other.installed:
            return _differ("installed", self.installed, other.installed)
        if not self.installed or self.version is None or other.version is None:
            return None
        exact = [v for v in (self.version, other.version) if not v.startswith(">=")]
        least = [v[2:].strip() for v in (self.version, other.version) if v.startswith(">=")]
        if len(exact) == 2 and compare_versions(exact[0], exact[1]) != 0:
            return f"version {self.version} here, {other.version} there"
        if len(exact) == 1 and len(least) == 1 and compare_versions(exact[0], least[0]) < 0:
            return f"version {self.version} here, {other.version} there"
        return None


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

    def identity(self) -> tuple[str, ...] | None:
        return ("firewall",)

    def disagreement(self, other: CheckBase) -> str | None:
        assert isinstance(other, FirewallCheck)
        return _differ("enabled", self.enabled, other.enabled)


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

    def identity(self) -> tuple[str, ...] | None:
        return ("localAdmins",)

    def disagreement(self, other: CheckBase) -> str | None:
        """An exact list must fit within the other's allowed accounts (two subsets always can)."""
        assert isinstance(other, LocalAdminsCheck)
        mine, theirs = ({name.casefold() for name in self.allowed}, {name.casefold() for name in other.allowed})
        if self.match == "exact" and other.match == "exact" and mine != theirs:
            return f"exactly {_shown(mine)} here, exactly {_shown(theirs)} there"
        if self.match == "exact" and not mine <= theirs:
            return f"exactly {_shown(mine)} here, only {_shown(theirs)} allowed there"
        if other.match == "exact" and not theirs <= mine:
            return f"only {_shown(mine)} allowed here, exactly {_shown(theirs)} there"
        return None


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
