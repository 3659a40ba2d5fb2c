"""Package jobs: :class:`Packages` sends ``archive`` installers to :class:`ArchivePackages` (below)
and every other type to :class:`agent.installers.deploying.NativePackages`.

The ``archive`` installer: make a package present or absent, at least once, safely.

Every job is delivered at least once, so each action detects first and treats
"already in the desired state" as success. The receipt is the detection rule
(:mod:`agent.receipts`):

install / upgrade
    already at the version → succeeded, "already installed". Otherwise fetch the
    artifact into the download cache (``cache/artifacts/<sha256>``, resumable; size and
    SHA-256 checked before anything is unpacked), unpack into
    ``software/<package>/<version>/`` via a temp folder, write the receipt, then
    remove the previous version's folder. ``install`` over another version behaves
    as an upgrade: the desired state is "this version present". The artifact stays in
    the cache: a job waiting for its maintenance window fetches it early
    (:meth:`ArchivePackages.prestage`), and the previous version's artifact is kept
    until the new one succeeded, for the rollback below.
uninstall
    no receipt and no folder → succeeded, "already absent". Otherwise remove
    ``software/<package>/`` and the receipt.

Afterwards the receipt is read again; the job succeeds only if it now says the
desired state (and an install left a folder with something in it: an archive that
unpacks nothing is a broken build, not an installed package). When an install or
upgrade fails and the previous version is no longer in place, it is unpacked again
from its cached artifact (hash checked again) and the job reports both steps: a
``rolling-back`` progress event, then the failed result with ``rolled_back_to``. A
failure before the previous version was touched (download, unpack) leaves it in
place and says so. Package names and versions become path components, so they are
checked against the fleet repo's patterns here even though the job was signed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import httpx

from agent.archives import sniff_format
from agent.downloading import ArtifactPin
from agent.errors import AgentError, JobRefused
from agent.extracting import Caps, unpack
from agent.facts import current_os
from agent.installers.caching import CacheLimits, DownloadCache
from agent.installers.deploying import DownloadPercent, NativePackages
from agent.installers.detecting import Probes
from agent.installers.outcomes import Outcome, OutputLog, Progress, no_progress
from agent.installers.steps import Context
from agent.receipts import PACKAGE_NAME, PACKAGE_VERSION, Receipt, Receipts
from agent.state import DataDir
from agent.urls import redact_url
from schemas.jobs import JobSpec
from schemas.packages import ArchiveInstaller
from schemas.protocol import ManagedItem, SoftwareItem

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
INSTALL_LOCK = "install.lock"
"""Held while a native installer runs: one install at a time per device (per data dir; the OS
package managers keep their own locks on top)."""


__all__ = ["ArchivePackages", "Outcome", "OutputLog", "Packages", "build_packages", "check_target"]


def check_target(spec: JobSpec) -> None:
    """Refuse a job this agent must not act on, before anything happens."""
    target = spec.package
    if not PACKAGE_NAME.fullmatch(target.name):
        raise JobRefused(f"package name {target.name!r} is not a DNS label")
    if not PACKAGE_VERSION.fullmatch(target.version):
        raise JobRefused(f"package version {target.version!r} has characters a version may not have")
    if target.installer.os != current_os():
        raise JobRefused(f"the installer is for {target.installer.os}; this agent runs {current_os()}")


def build_packages(data_dir: DataDir, *, clock: Clock, caps: Caps, allow_insecure_http: bool,
                   max_artifact_bytes: int, download_timeout_seconds: float = 60.0,
                   transport: httpx.BaseTransport | None = None, cache_limits: CacheLimits | None = None,
                   software: Callable[[], Sequence[SoftwareItem]] = list) -> Packages:
    """The package executors for one data dir, reading the real machine."""
    cache = DownloadCache(data_dir.cache_dir / "artifacts", cache_limits or CacheLimits(),
                          allow_insecure_http=allow_insecure_http, max_artifact_bytes=max_artifact_bytes,
                          timeout_seconds=download_timeout_seconds, transport=transport)
    archives = ArchivePackages(data_dir, clock=clock, caps=caps, allow_insecure_http=allow_insecure_http,
                               max_artifact_bytes=max_artifact_bytes,
                               download_timeout_seconds=download_timeout_seconds, transport=transport, cache=cache)
    os_name = current_os()
    native = NativePackages(
        archives.receipts, cache, Probes(os_name, software=software), clock=clock,
        work_root=data_dir.cache_dir / "jobs", lock_path=data_dir.root / INSTALL_LOCK,
        context=Context(version="", console_user=console_user() if os_name == "macos" else None,
                        use_apt=shutil.which("apt-get") is not None),
    )
    return Packages(archives, native)


def console_user(console: Path = Path("/dev/console")) -> str | None:
    """macOS: who owns the console (is logged in at the screen); None when it cannot be told."""
    try:
        import pwd  # POSIX only

        return pwd.getpwuid(console.stat().st_uid).pw_name
    except (OSError, KeyError, ImportError):
        return None


class Packages:
    """Every package job, whatever its installer type."""

    def __init__(self, archives: ArchivePackages, native: NativePackages) -> None:
        self.archives = archives
        self.native = native

    def check(self, spec: JobSpec) -> None:
        check_target(spec)

    def execute(self, spec: JobSpec, progress: Progress = no_progress) -> Outcome:
        if spec.package.installer.type == "archive":
            return self.archives.execute(spec, progress)
        check_target(spec)
        return self.native.execute(spec, progress)

    def prestage(self, spec: JobSpec, progress: Progress = no_progress) -> str:
        """Fetch a job's artifact into the download cache ahead of its maintenance window."""
        if spec.package.installer.type == "archive":
            return self.archives.prestage(spec, progress)
        check_target(spec)
        return self.native.prestage(spec, progress)


class ArchivePackages:
    """Installs, upgrades and uninstalls archive packages under one data dir."""

    def __init__(
        self,
        data_dir: DataDir,
        *,
        clock: Clock,
        caps: Caps,
        allow_insecure_http: bool,
        max_artifact_bytes: int,
        download_timeout_seconds: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        cache: DownloadCache | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.cache = cache or DownloadCache(
            data_dir.cache_dir / "artifacts", CacheLimits(), allow_insecure_http=allow_insecure_http,
            max_artifact_bytes=max_artifact_bytes, timeout_seconds=download_timeout_seconds, transport=transport)
        self.receipts = Receipts(data_dir.receipts_dir)
        self.clock = clock
        self.caps = caps
        self.allow_insecure_http = allow_insecure_http
        self.max_artifact_bytes = max_artifact_bytes
        self.download_timeout_seconds = download_timeout_seconds
        self.transport = transport

    def folder(self, package: str, version: str) -> Path:
        return self.data_dir.software_dir / package / version

    def detect(self, package: str) -> Receipt | None:
        """The receipt, if the package is installed (receipt present and its folder there)."""
        receipt = self.receipts.get(package)
        if receipt is None or not self.folder(package, receipt.version).is_dir():
            return None
        return receipt

    def check(self, spec: JobSpec) -> None:
        """Refuse a job this agent must not act on, before anything happens."""
        check_target(spec)
        if spec.package.installer.type != "archive":
            raise JobRefused(f"ArchivePackages got a {spec.package.installer.type} installer")

    def execute(self, spec: JobSpec, progress: Progress = no_progress) -> Outcome:
        """Bring the package to the job's desired state; never raises for a job-level failure."""
        self.check(spec)
        output = OutputLog()
        previous = self.detect(spec.package.name) if spec.action != "uninstall" else None
        unpacked = False
        try:
            if spec.action == "uninstall":
                message = self._uninstall(spec, output)
            else:
                message, unpacked = self._install(spec, output, progress)
        except (AgentError, OSError) as exc:
            reason = str(exc)
            output.add(f"error: {reason}")
            log.warning("job %s (%s %s %s) failed: %s", spec.job_id, spec.action, spec.package.name,
                        spec.package.version, reason)
            return self._failed(spec, f"{spec.action} failed", reason, output, previous, progress)
        return self._verify_after(spec, message, output, previous, progress, unpacked=unpacked)

    def prestage(self, spec: JobSpec, progress: Progress = no_progress) -> str:
        """Fetch (and verify) the job's artifact into the download cache ahead of its window; what was done."""
        self.check(spec)
        installed = self.detect(spec.package.name)
        if spec.action == "uninstall" or (installed is not None and installed.version == spec.package.version):
            return "nothing to pre-stage"
        installer = spec.package.installer
        assert isinstance(installer, ArchiveInstaller)
        output = OutputLog()
        self._fetch(installer, output, progress, keep=installed.sha256 if installed is not None else None)
        return output.text.splitlines()[-1]

    def _fetch(self, installer: ArchiveInstaller, output: OutputLog, progress: Progress, *,
               keep: str | None) -> Path:
        output.add(f"downloading {redact_url(installer.url)}"
                   + (f" ({installer.size} bytes declared)" if installer.size else ""))
        progress("downloading", 0)
        shown = DownloadPercent(installer.size, progress)
        path, how = self.cache.fetch(ArtifactPin(installer.url, installer.sha256, installer.size), "",
                                     shown if installer.size else None)
        progress("downloading", 100)
        # The installed version's artifact stays until this one succeeds: a failed upgrade rolls back to it.
        self.cache.cleanup(keep={installer.sha256} | ({keep} if keep else set()))
        output.add(f"got {path.stat().st_size} bytes ({how}), sha256 {installer.sha256} matches the package")
        return path

    def _install(self, spec: JobSpec, output: OutputLog, progress: Progress) -> tuple[str, bool]:
        """What was done, and whether a new version was unpacked."""
        name, version = spec.package.name, spec.package.version
        installer = spec.package.installer
        assert isinstance(installer, ArchiveInstaller), "Packages sends only archive installers here"
        before = self.detect(name)
        if before is not None and before.version == version:
            output.add(f"{name} {version} is already installed at {self.folder(name, version)}")
            return "already installed", False
        destination = self.folder(name, version)
        if destination.exists() or destination.is_symlink():
            # Left by a crash between unpacking and writing the receipt: not trusted, redone.
            output.add(f"removing an incomplete earlier unpack at {destination}")
            _remove(destination)

        artifact = self._fetch(installer, output, progress, keep=before.sha256 if before is not None else None)
        progress("installing", None)
        summary = unpack(artifact, installer.resolved_format, destination, self.caps)
        output.add(f"unpacked {summary.files} files, {summary.dirs} folders, {summary.links} links "
                   f"({summary.bytes} bytes) into {destination}")

        self.receipts.put(Receipt(package=name, version=version, sha256=installer.sha256,
                                  installed_at=self.clock(), path=str(destination)))
        if before is not None and before.version != version:
            _remove(self.folder(name, before.version))
            output.add(f"removed the previous version {before.version}")
            return f"upgraded from {before.version} to {version}", True
        return f"installed {version}", True

    def _uninstall(self, spec: JobSpec, output: OutputLog) -> str:
        name = spec.package.name
        package_dir = self.data_dir.software_dir / name
        receipt = self.receipts.get(name)
        if receipt is None and not package_dir.exists():
            output.add(f"{name} is not installed")
            return "already absent"
        # The receipt goes first: if removal is interrupted, the package reads as absent
        # and a retried job cleans the folder up.
        self.receipts.remove(name)
        _remove(package_dir)
        output.add(f"removed {package_dir}" + (f" (version {receipt.version})" if receipt else ""))
        return f"uninstalled {receipt.version}" if receipt else "removed leftover files"

    def _verify_after(self, spec: JobSpec, message: str, output: OutputLog, previous: Receipt | None,
                      progress: Progress, *, unpacked: bool) -> Outcome:
        name, version = spec.package.name, spec.package.version
        progress("detecting", None)
        after = self.detect(name)
        managed = after.managed_item() if after else None
        if spec.action == "uninstall":
            if after is None:
                return Outcome("succeeded", message, output=output.text, managed=None)
            reason = f"detection after uninstall still finds {name} {after.version}"
        elif after is not None and after.version == version:
            folder = self.folder(name, version)
            if not unpacked or any(folder.iterdir()):
                return Outcome("succeeded", message, output=output.text, managed=managed)
            reason = f"detection after {spec.action}: {folder} is empty; the archive unpacked nothing"
        else:
            found = f"{after.version}" if after else "nothing"
            reason = f"detection after {spec.action} finds {found}, not {name} {version}"
        output.add(f"error: {reason}")
        return self._failed(spec, f"{spec.action} did not take effect", reason, output, previous, progress)

    def _failed(self, spec: JobSpec, what: str, reason: str, output: OutputLog, previous: Receipt | None,
                progress: Progress) -> Outcome:
        """A failed job's outcome, after restoring the previous version if the failure lost it."""
        name = spec.package.name
        restored: str | None = None
        if spec.action != "uninstall" and previous is not None and previous.version != spec.package.version:
            current = self.detect(name)
            if current is not None and current.version == previous.version:
                output.add(f"{name} {previous.version} is still installed: the failed {spec.action} left it alone")
            else:
                restored = self._roll_back(spec, previous, output, progress)
        message = what + (f"; rolled back to {restored}" if restored else "")
        return Outcome("failed", message, reason=reason, output=output.text, managed=self._managed(name),
                       rolled_back_to=restored)

    def _roll_back(self, spec: JobSpec, previous: Receipt, output: OutputLog, progress: Progress) -> str | None:
        """Unpack ``previous`` again from its cached artifact; its version when that worked.

        Only from the cache, and only a file that still has the hash in the previous receipt:
        the agent never fetches anything the job did not pin."""
        name = spec.package.name
        cached = self.cache.path(previous.sha256)
        if not previous.sha256 or not cached.is_file():
            output.add(f"no rollback: the artifact of {previous.version} is no longer in the download cache")
            return None
        if not self.cache.verify(cached, previous.sha256):
            output.add(f"no rollback: the cached artifact of {previous.version} no longer has its sha256")
            return None
        progress("rolling-back", None)
        output.add(f"rolling back to {previous.version} from the cached artifact {cached.name}")
        target = self.folder(name, previous.version)
        try:
            if target.exists() or target.is_symlink():
                _remove(target)
            unpack(cached, sniff_format(cached), target, self.caps)
            self.receipts.put(Receipt(package=name, version=previous.version, sha256=previous.sha256,
                                      installed_at=self.clock(), path=str(target)))
            failed = self.folder(name, spec.package.version)
            if failed != target:
                _remove(failed)
        except (AgentError, OSError) as exc:
            output.add(f"rollback to {previous.version} failed too: {exc}")
            return None
        restored = self.detect(name)
        if restored is None or restored.version != previous.version:
            output.add(f"rollback to {previous.version} did not take effect")
            return None
        output.add(f"rolled back to {previous.version}")
        return previous.version

    def _managed(self, package: str) -> ManagedItem | None:
        receipt = self.detect(package)
        return receipt.managed_item() if receipt else None


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
