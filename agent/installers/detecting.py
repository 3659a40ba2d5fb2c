"""Detection: is the package installed (at the version the job wants)?

Rules are evaluated by kind in the precedence :data:`schemas.detection.DETECTION_PRECEDENCE`
(package database, file, registry, inventory, script): the highest kind that
can be evaluated on this device decides, and all of its rules must pass. A kind
whose tool is missing (no ``rpm`` on a Debian box) raises :class:`Unavailable`
and the next kind is tried. When every kind is unavailable, detection errors
rather than guessing.

The ``dpkg`` rule reads dpkg's status file in-process (:mod:`.debstatus`: 5-12 ms here against
16-43 ms for starting ``dpkg-query``, and a job detects twice); whenever that reader refuses (a journal
pending in ``updates/``, an odd file) or the question is not a plain package name (an
architecture qualifier, a pattern, several instances), ``dpkg-query`` answers as before.

The probes read the machine; the parsers they use are pure functions tested
against recorded output (``pkgutil --pkg-info-plist``, the PowerShell scripts'
JSON on Windows) in ``tests/agent/installers/fixtures``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import plistlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import AgentError
from agent.installers.debstanzas import Unreadable
from agent.installers.debstatus import ADMIN_DIR, read_installed
from agent.installers.inline import script_step, write_script
from agent.installers.processes import Runner, run_command
from schemas.detection import (
    DETECTION_PRECEDENCE,
    RULE_KIND,
    DpkgRule,
    FileRule,
    InventoryRule,
    MsiRule,
    PkgutilRule,
    RegistryRule,
    RpmRule,
    ScriptRule,
)
from schemas.packages import NativeInstaller
from schemas.protocol import SoftwareItem

Rule = DpkgRule | RpmRule | MsiRule | PkgutilRule | FileRule | RegistryRule | InventoryRule | ScriptRule
PROBE_TIMEOUT_SECONDS = 60.0
_PLAIN_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
"""What the status file can answer alone; dpkg-query also takes ``name:arch`` and glob patterns."""


class Unavailable(AgentError):
    """This kind of rule cannot be evaluated on this device (its tool is missing)."""


class DetectionError(AgentError):
    """A rule could not be evaluated (a probe failed or timed out); detection says neither yes nor no."""


@dataclass(frozen=True)
class Found:
    present: bool
    version: str | None = None
    alternatives: tuple[str, ...] = ()
    """Other spellings of the same version (rpm's VERSION and VERSION-RELEASE)."""
    via: str | None = None
    """Where the answer came from when that is not the usual source (dpkg-query, and why)."""


@dataclass(frozen=True)
class Detection:
    installed: bool
    kind: str
    detail: str


# -- pure parsers ---------------------------------------------------------------------------------

def parse_dpkg_status(text: str) -> Found:
    """``dpkg-query -W -f '${Status} ${Version}'``: "install ok installed 1.0-1"."""
    parts = text.strip().split()
    if len(parts) >= 3 and parts[2] == "installed":
        return Found(True, parts[3] if len(parts) > 3 else None)
    return Found(False)


def parse_rpm_query(text: str) -> Found:
    """``rpm -q --qf '%{VERSION} %{VERSION}-%{RELEASE}\\n'``: the first line."""
    parts = text.strip().splitlines()[0].split() if text.strip() else []
    if len(parts) != 2:
        return Found(False)
    return Found(True, parts[0], (parts[1],))


def parse_pkgutil_plist(data: bytes) -> Found:
    """``pkgutil --pkg-info-plist <id>``: a plist with ``pkg-version``."""
    try:
        info = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError):
        return Found(False)
    version = info.get("pkg-version") if isinstance(info, dict) else None
    return Found(True, version) if isinstance(version, str) else Found(False)


def parse_bundle_version(data: bytes) -> str | None:
    """An ``Info.plist``'s CFBundleShortVersionString (else CFBundleVersion)."""
    try:
        info = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    version = info.get("CFBundleShortVersionString") or info.get("CFBundleVersion")
    return version if isinstance(version, str) else None


def parse_windows_json(text: str) -> Found:
    """The JSON our PowerShell probes print: ``{"found": bool, "version": str|null}``."""
    try:
        data = json.loads(text.lstrip("\ufeff") or "{}")
    except ValueError:
        raise DetectionError("the PowerShell probe did not print JSON") from None
    if not isinstance(data, dict) or not data.get("found"):
        return Found(False)
    version = data.get("version")
    return Found(True, str(version).strip() if version not in (None, "") else None)


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1, comparing digit runs numerically and the rest as text (1.10 > 1.9, 2.0 > 2.0rc)."""
    def parts(text: str) -> list[tuple[int, int | str]]:
        return [(0, int(chunk)) if chunk.isdigit() else (1, chunk)
                for chunk in re.findall(r"\d+|[A-Za-z]+", text)]
    a, b = parts(left), parts(right)
    # A shorter version with equal prefix is lower, unless what follows is a pre-release word.
    for x, y in zip(a, b, strict=False):
        if x != y:
            if x[0] != y[0]:
                return 1 if x[0] == 0 else -1
            return 1 if x[1] > y[1] else -1  # type: ignore[operator]
    if len(a) == len(b):
        return 0
    longer, sign = (a, 1) if len(a) > len(b) else (b, -1)
    return -sign if longer[min(len(a), len(b))][0] == 1 else sign


# -- PowerShell probes (Windows) --------------------------------------------------------------------

MSI_PROBE = r"""
$ErrorActionPreference = 'SilentlyContinue'
$code = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{code}'))
$paths = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\' + $code,
         'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\' + $code
foreach ($path in $paths) {
  $entry = Get-ItemProperty -LiteralPath $path
  if ($entry) { ConvertTo-Json -Compress @{ found = $true; version = $entry.DisplayVersion }; exit 0 }
}
ConvertTo-Json -Compress @{ found = $false; version = $null }
"""

FILE_VERSION_PROBE = r"""
$ErrorActionPreference = 'SilentlyContinue'
$path = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{path}'))
$item = Get-Item -LiteralPath $path
if (-not $item) { ConvertTo-Json -Compress @{ found = $false; version = $null }; exit 0 }
$info = $item.VersionInfo
$version = if ($info.FileVersionRaw) { $info.FileVersionRaw.ToString() } else { $info.FileVersion }
ConvertTo-Json -Compress @{ found = $true; version = $version }
"""

REGISTRY_PROBE = r"""
$ErrorActionPreference = 'SilentlyContinue'
$key = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{key}'))
$name = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{value}'))
$item = Get-Item -LiteralPath ('Registry::' + $key)
if (-not $item) { ConvertTo-Json -Compress @{ found = $false; version = $null }; exit 0 }
if ($name -eq '') { ConvertTo-Json -Compress @{ found = $true; version = $null }; exit 0 }
$names = @($item.GetValueNames())
if ($names -notcontains $name) { ConvertTo-Json -Compress @{ found = $false; version = $null }; exit 0 }
ConvertTo-Json -Compress @{ found = $true; version = [string]$item.GetValue($name) }
"""


def powershell_argv(template: str, **values: str) -> tuple[str, ...]:
    """The probe with its arguments embedded as base64 (no quoting to get wrong), as -EncodedCommand."""
    script = template
    for name, value in values.items():
        script = script.replace("{" + name + "}", base64.b64encode(value.encode()).decode())
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    return ("powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
            "-EncodedCommand", encoded)


def registry_path(key: str) -> str:
    return "HKEY_LOCAL_MACHINE" + key[key.index("\\"):]


# -- probes ------------------------------------------------------------------------------------------

@dataclass
class Probes:
    """What detection asks the machine; ``runner`` and ``software`` are parameters so tests can choose."""

    os_name: str
    runner: Runner = run_command
    software: Callable[[], Sequence[SoftwareItem]] = list
    which: Callable[[str], str | None] = shutil.which
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    dpkg_admin_dir: Path = ADMIN_DIR
    """dpkg's database (``status``, ``updates/``); tests point it at a fixture."""

    def _run(self, argv: Sequence[str], tool: str) -> tuple[int | None, str]:
        if self.which(argv[0]) is None:
            raise Unavailable(f"{argv[0]} is not installed here")
        done = self.runner(argv, timeout=PROBE_TIMEOUT_SECONDS)
        if done.timed_out or done.error:
            raise DetectionError(f"{tool}: {done.error or 'timed out'}")
        return done.code, done.output

    def dpkg(self, package: str) -> Found:
        """What ``dpkg-query -W -f '${Status} ${Version}' <package>`` would say, from the status file if it can."""
        if self.which("dpkg-query") is None:
            raise Unavailable("dpkg-query is not installed here")  # a stray status file does not make a dpkg system
        try:
            return self._dpkg_status_file(package)
        except Unreadable as exc:
            why = str(exc)
        admin = () if self.dpkg_admin_dir == ADMIN_DIR else (f"--admindir={self.dpkg_admin_dir}",)
        code, output = self._run(("dpkg-query", *admin, "-W", "-f", "${Status} ${Version}", package), "dpkg-query")
        found = parse_dpkg_status(output) if code == 0 else Found(False)
        return Found(found.present, found.version, via=f"read by dpkg-query: {why}")

    def _dpkg_status_file(self, package: str) -> Found:
        if not _PLAIN_PACKAGE_NAME.fullmatch(package):
            raise Unreadable(f"{package!r} is not a plain package name")
        instances = read_installed({package}, None, self.dpkg_admin_dir).get(package, [])
        if len(instances) > 1:  # dpkg-query runs one line per instance together: keep its answer
            raise Unreadable(f"{package} has {len(instances)} instances (architectures)")
        # Absent or not-installed: dpkg-query prints nothing or "... not-installed"; both read as not installed.
        return parse_dpkg_status(f"{instances[0].status} {instances[0].version}") if instances else Found(False)

    def rpm(self, package: str) -> Found:
        code, output = self._run(("rpm", "-q", "--qf", "%{VERSION} %{VERSION}-%{RELEASE}\\n", package), "rpm")
        return parse_rpm_query(output) if code == 0 else Found(False)

    def msi(self, product_code: str) -> Found:
        return self._windows(powershell_argv(MSI_PROBE, code=product_code))

    def pkgutil(self, package_id: str) -> Found:
        code, output = self._run(("/usr/sbin/pkgutil", "--pkg-info-plist", package_id), "pkgutil")
        return parse_pkgutil_plist(output.encode()) if code == 0 else Found(False)

    def file(self, path: str) -> Found:
        if self.os_name == "windows":
            return self._windows(powershell_argv(FILE_VERSION_PROBE, path=path))
        target = Path(path)
        if not target.exists():
            return Found(False)
        if target.suffix == ".app" and (target / "Contents" / "Info.plist").is_file():
            return Found(True, parse_bundle_version((target / "Contents" / "Info.plist").read_bytes()[:1 << 20]))
        return Found(True)

    def registry(self, key: str, value: str | None) -> Found:
        return self._windows(powershell_argv(REGISTRY_PROBE, key=registry_path(key), value=value or ""))

    def _windows(self, argv: tuple[str, ...]) -> Found:
        if self.os_name != "windows":
            raise Unavailable("a Windows probe on another OS")
        code, output = self._run(argv, "powershell")
        if code != 0:
            raise DetectionError(f"the PowerShell probe exited with {code}")
        return parse_windows_json(output)

    def script(self, rule: ScriptRule) -> bool:
        path = write_script(rule.script, self.work_dir, "detect")
        step = script_step(rule.script, path, "detect")
        done = self.runner(step.argv, timeout=rule.script.timeout_seconds)
        if done.timed_out:
            raise DetectionError(f"the detection script timed out after {rule.script.timeout_seconds}s")
        if done.error or done.code not in (0, 1):
            raise DetectionError(f"the detection script exited with {done.code} {done.error}".strip()
                                 + " (0 = installed, 1 = not installed)")
        return done.code == 0


# -- evaluation --------------------------------------------------------------------------------------

def default_rules(installer: NativeInstaller) -> list[Rule]:
    """The rule a type implies when the Package gives none (package database types only)."""
    kind = installer.type
    if kind == "deb":
        return [DpkgRule(type="dpkg", package=installer.package_name)]  # type: ignore[union-attr]
    if kind == "apt":
        return [DpkgRule(type="dpkg", package=installer.package_id)]  # type: ignore[union-attr]
    if kind == "rpm":
        return [RpmRule(type="rpm", package=installer.package_name)]  # type: ignore[union-attr]
    if kind == "dnf":
        return [RpmRule(type="rpm", package=installer.package_id)]  # type: ignore[union-attr]
    if kind == "msi" and installer.product_code:  # type: ignore[union-attr]
        return [MsiRule(type="msi", product_code=installer.product_code)]  # type: ignore[union-attr]
    if kind == "pkg" and installer.package_identifier:  # type: ignore[union-attr]
        return [PkgutilRule(type="pkgutil", package_id=installer.package_identifier)]  # type: ignore[union-attr]
    if kind == "dmg":
        return [FileRule(type="file", path=f"{installer.destination}/{installer.app}")]  # type: ignore[union-attr]
    if kind == "msix":
        return [InventoryRule(type="inventory", name=installer.package_name)]  # type: ignore[union-attr]
    return []


def detect(rules: Sequence[Rule], probes: Probes, version: str) -> Detection:
    """Whether the rules say "installed at ``version``"; raises DetectionError when nothing can tell."""
    if not rules:
        raise DetectionError("the installer has no detection rule", hint="add detection: [...] to the Package")
    skipped: list[str] = []
    for kind in DETECTION_PRECEDENCE:
        mine = [rule for rule in rules if RULE_KIND[rule.type] == kind]
        if not mine:
            continue
        try:
            results = [_check(rule, probes, version) for rule in mine]
        except Unavailable as exc:
            skipped.append(f"{kind} ({exc.message})")
            continue
        failed = [detail for ok, detail in results if not ok]
        details = "; ".join(detail for _ok, detail in results)
        return Detection(not failed, kind, details)
    raise DetectionError("no detection rule can be evaluated on this device: " + ", ".join(skipped),
                         hint="add a rule this OS can check (see the precedence in docs/deployments.md)")


def _check(rule: Rule, probes: Probes, version: str) -> tuple[bool, str]:
    if isinstance(rule, ScriptRule):
        ok = probes.script(rule)
        return ok, f"detection script says {'installed' if ok else 'not installed'}"
    if isinstance(rule, InventoryRule):
        return _inventory(rule, probes, version)
    what, found = _probe(rule, probes)
    if isinstance(rule, FileRule) and found.present and rule.sha256 is not None:
        digest = _file_sha256(Path(rule.path))
        if digest != rule.sha256:
            return False, f"{what} has sha256 {digest}, not {rule.sha256}"
    if not found.present:
        return False, f"{what}: not installed"
    if _presence_only(rule):
        return True, f"{what}: present" + (f" ({found.version})" if found.version else "")
    return _version_matches(what, found, rule.version or version, rule.min_version)


def _presence_only(rule: Rule) -> bool:
    """File and registry versions are the vendor's, rarely the Package's: without an explicit
    version or minVersion those rules check presence only. Package databases compare versions."""
    if isinstance(rule, ScriptRule):
        return True
    if rule.any_version:
        return True
    return isinstance(rule, FileRule | RegistryRule) and rule.version is None and rule.min_version is None


def _probe(rule: Rule, probes: Probes) -> tuple[str, Found]:
    if isinstance(rule, DpkgRule):
        found = probes.dpkg(rule.package)
        return f"dpkg {rule.package}" + (f" ({found.via})" if found.via else ""), found
    if isinstance(rule, RpmRule):
        return f"rpm {rule.package}", probes.rpm(rule.package)
    if isinstance(rule, MsiRule):
        return f"msi {rule.product_code}", probes.msi(rule.product_code)
    if isinstance(rule, PkgutilRule):
        return f"pkgutil {rule.package_id}", probes.pkgutil(rule.package_id)
    if isinstance(rule, FileRule):
        return f"file {rule.path}", probes.file(rule.path)
    assert isinstance(rule, RegistryRule)
    shown = rule.key + (f" value {rule.value}" if rule.value else "")
    return f"registry {shown}", probes.registry(rule.key, rule.value)


def _version_matches(what: str, found: Found, wanted: str, minimum: str | None) -> tuple[bool, str]:
    have = found.version
    if have is None:
        return False, f"{what}: present, but its version cannot be read (use anyVersion: true)"
    if minimum is not None:
        ok = compare_versions(have, minimum) >= 0
        return ok, f"{what}: version {have}" + ("" if ok else f", older than {minimum}")
    ok = wanted in (have, *found.alternatives)
    return ok, f"{what}: version {have}" + ("" if ok else f", not {wanted}")


def _inventory(rule: InventoryRule, probes: Probes, version: str) -> tuple[bool, str]:
    matches = [item for item in probes.software() if item.name.casefold() == rule.name.casefold()]
    what = f"inventory {rule.name!r}"
    if not matches:
        return False, f"{what}: not installed"
    if rule.any_version:
        return True, f"{what}: present"
    for item in matches:
        ok, detail = _version_matches(what, Found(True, item.version or None), rule.version or version,
                                      rule.min_version)
        if ok:
            return ok, detail
    return False, detail


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
