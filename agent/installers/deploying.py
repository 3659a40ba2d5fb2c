"""The job path for every non-archive installer: detect, fetch, verify, run, classify, detect again.

install / upgrade
    1. detect: already installed at the version → succeeded, nothing runs;
    2. take the device's install lock (one install at a time);
    3. fetch the artifact into the download cache (resumable) and verify its size and
       SHA-256 (and the publisher signature, when the Package names one) before execution;
    4. the ``preInstall`` script (must exit 0);
    5. the install command(s); each exit code goes through the type's exit-code map:
       success, reboot soft/hard (success; the reboot is *requested* in the result, never
       performed), retry later, or failure with the code's meaning; a timeout kills the tree;
    6. the ``postInstall`` script (must exit 0);
    7. detect again: the job succeeds only if detection now passes. One check, no loop:
       a rule that never passes is a failure that names it.
uninstall
    detect (absent → succeeded), the uninstall command, detect again (must be absent).

A receipt (:mod:`agent.receipts`) records what Fleetward installed so the
``managed`` inventory section shows it; detection, not the receipt, decides.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from agent.downloading import ArtifactPin
from agent.errors import AgentError, JobRefused
from agent.installers.caching import DownloadCache
from agent.installers.commands import expected_version, install_steps, uninstall_steps
from agent.installers.debtool import DebTool, choose_deb_tool
from agent.installers.detecting import Detection, DetectionError, Probes, Rule, default_rules, detect
from agent.installers.exitcodes import RETRY_AFTER_SECONDS, Verdict, classify, held_package_lock
from agent.installers.inline import script_step, write_script
from agent.installers.locking import DeviceBusy, install_lock
from agent.installers.outcomes import Outcome, OutputLog, Progress, no_progress
from agent.installers.processes import Completed, Runner, run_command
from agent.installers.signatures import verify_publisher
from agent.installers.steps import Context, Step
from agent.receipts import Receipt, Receipts
from agent.urls import redact_url
from schemas.detection import InlineScript
from schemas.jobs import JobSpec
from schemas.packages import DebInstaller, NativeInstaller, ScriptInstaller

Clock = Callable[[], datetime]
SUFFIX = {"msi": ".msi", "exe": ".exe", "msix": ".msix", "pkg": ".pkg", "dmg": ".dmg", "deb": ".deb", "rpm": ".rpm"}
"""The file name suffix each type's tool expects (a script's artifact keeps its URL's)."""


class StepFailed(AgentError):
    def __init__(self, message: str, *, retry_after_seconds: int | None = None,
                 rolled_back_to: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        """Set when the installer said "not now": how long to wait before trying again."""
        self.rolled_back_to = rolled_back_to


class NativePackages:
    """Installs and uninstalls packages with the OS's own tools, one job at a time per device."""

    def __init__(self, receipts: Receipts, cache: DownloadCache, probes: Probes, *, clock: Clock,
                 work_root: Path, lock_path: Path, lock_wait_seconds: float = 600.0,
                 runner: Runner = run_command, context: Context | None = None) -> None:
        self.receipts = receipts
        self.cache = cache
        self.probes = probes
        self.clock = clock
        self.work_root = work_root
        self.lock_path = lock_path
        self.lock_wait_seconds = lock_wait_seconds
        self.runner = runner
        self.facts = context or Context(version="")

    def execute(self, spec: JobSpec, progress: Progress = no_progress) -> Outcome:
        installer = spec.package.installer
        assert installer.type != "archive"
        output = OutputLog()
        version = expected_version(installer, spec.package.version)
        rules = list(installer.detection) or default_rules(installer)
        try:
            with install_lock(self.lock_path, wait_seconds=self.lock_wait_seconds):
                work = Path(tempfile.mkdtemp(prefix="job-", dir=_mkdir(self.work_root)))
                try:
                    self.probes.work_dir = work
                    if spec.action == "uninstall":
                        return self._uninstall(spec, installer, rules, version, work, output)
                    return self._install(spec, installer, rules, version, work, output, progress)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
        except DeviceBusy as busy:
            return self._failed(spec, output, busy.message, retry_after_seconds=RETRY_AFTER_SECONDS)
        except StepFailed as failed:
            return self._failed(spec, output, failed.message, retry_after_seconds=failed.retry_after_seconds,
                                rolled_back_to=failed.rolled_back_to)
        except JobRefused:
            raise
        except (AgentError, OSError) as exc:
            return self._failed(spec, output, str(exc))

    # -- install -------------------------------------------------------------------------------

    def _install(self, spec: JobSpec, installer: NativeInstaller, rules: list[Rule], version: str, work: Path,
                 output: OutputLog, progress: Progress) -> Outcome:
        name = spec.package.name
        progress("detecting", None)
        before = self._detect(rules, version, output, "before")
        if before.installed:
            receipt = self._record(spec, installer)
            return Outcome("succeeded", "already installed", output=output.text, managed=receipt.managed_item())
        previous = self.receipts.get(name)
        keep = previous.sha256 if previous is not None and previous.version != spec.package.version else None
        artifact = self._fetch(installer, output, progress, keep=keep)
        context = Context(version=version, artifact=artifact, work_dir=work, console_user=self.facts.console_user,
                          brew=self.facts.brew, use_apt=self._use_apt(installer, artifact, output))
        progress("installing", None)
        try:
            if installer.pre_install is not None:
                self._script(installer.pre_install, work, "preinstall", output)
            script_path = write_script(installer.script, work, "install") \
                if isinstance(installer, ScriptInstaller) else None
            verdict = self._run_steps(install_steps(installer, context, script_path), installer, output,
                                      uninstall=False)
            if installer.post_install is not None:
                self._script(installer.post_install, work, "postinstall", output)
            progress("detecting", None)
            after = self._detect(rules, version, output, "after")
            if not after.installed:
                raise StepFailed(f"the installer reported success but detection still fails: {after.detail}")
        except StepFailed as failed:
            if failed.retry_after_seconds is not None or previous is None or keep is None:
                raise
            restored = self._roll_back(installer, previous, work, output, progress)
            if restored is None:
                raise
            raise StepFailed(f"{failed.message}; rolled back to {restored}", rolled_back_to=restored) from None
        receipt = self._record(spec, installer)
        reboot = verdict.reboot or ("soft" if installer.reboot == "always" else "")
        message = f"installed {name} {spec.package.version}"
        if spec.action == "upgrade" and spec.previous_version:
            message = f"upgraded {name} from {spec.previous_version} to {spec.package.version}"
        if reboot:
            message += f"; reboot required ({reboot}), requested, not performed"
            output.add(f"reboot requested ({reboot}); the agent never reboots by itself")
        return Outcome("succeeded", message, output=output.text, managed=receipt.managed_item(),
                       reboot=reboot)  # type: ignore[arg-type]

    def _uninstall(self, spec: JobSpec, installer: NativeInstaller, rules: list[Rule], version: str, work: Path,
                   output: OutputLog) -> Outcome:
        name = spec.package.name
        before = self._detect(rules, version, output, "before")
        if not before.installed:
            self.receipts.remove(name)
            return Outcome("succeeded", "already absent", output=output.text)
        context = Context(version=version, work_dir=work, console_user=self.facts.console_user,
                          brew=self.facts.brew, use_apt=self.facts.use_apt)
        verdict = self._run_steps(uninstall_steps(installer, context), installer, output, uninstall=True)
        after = self._detect(rules, version, output, "after")
        if after.installed:
            raise StepFailed(f"the uninstaller reported success but detection still finds the package: "
                             f"{after.detail}")
        self.receipts.remove(name)
        message = f"uninstalled {name} {spec.package.version}"
        if verdict.reboot:
            message += f"; reboot required ({verdict.reboot}), requested, not performed"
        return Outcome("succeeded", message, output=output.text, reboot=verdict.reboot)  # type: ignore[arg-type]

    # -- steps ---------------------------------------------------------------------------------

    def _use_apt(self, installer: NativeInstaller, artifact: Path | None, output: OutputLog) -> bool:
        """Whether a local .deb goes through apt-get: only when apt-get is here and dpkg -i is not proven enough.

        ``silentArgs`` were written for the tool the Package expected (apt-get where it exists), so a
        .deb that has them keeps apt-get.
        """
        if not (self.facts.use_apt and isinstance(installer, DebInstaller) and artifact is not None):
            return self.facts.use_apt
        tool = DebTool(True, "the installer has silentArgs (written for apt-get)") if installer.silent_args \
            else choose_deb_tool(artifact, self.runner)
        output.add(tool.describe())
        return tool.use_apt

    def _detect(self, rules: list[Rule], version: str, output: OutputLog, when: str) -> Detection:
        try:
            found = detect(rules, self.probes, version)
        except DetectionError as exc:
            raise StepFailed(f"detection {when}: {exc}") from None
        output.add(f"detect {when}: {found.kind}: {found.detail}")
        return found

    def _roll_back(self, installer: NativeInstaller, previous: Receipt, work: Path, output: OutputLog,
                   progress: Progress) -> str | None:
        """Reinstall ``previous`` from its cached artifact; its version when detection confirms it.

        Only when the artifact is still in the download cache and still has the pinned hash:
        the agent never fetches anything the job did not pin, and the previous job's pin is
        the hash in its receipt. The same installer type's steps run with the old artifact.
        """
        path = self.cache.path(previous.sha256, SUFFIX.get(installer.type, ""))
        if not previous.sha256 or not path.is_file():
            output.add(f"no rollback: the artifact of {previous.version} is no longer in the download cache")
            return None
        if not self.cache.verify(path, previous.sha256):
            output.add(f"no rollback: the cached artifact of {previous.version} no longer has its sha256")
            return None
        progress("rolling-back", None)
        output.add(f"rolling back to {previous.version} from the cached artifact {path.name}")
        old_version = expected_version(installer, previous.version)
        context = Context(version=old_version, artifact=path, work_dir=work, console_user=self.facts.console_user,
                          brew=self.facts.brew, use_apt=self._use_apt(installer, path, output))
        # The package database says what is installed; the new version's own detection rules may be
        # the very thing that failed, so they decide only for types without a database.
        rules = default_rules(installer) or list(installer.detection)
        try:
            self._run_steps(install_steps(installer, context, None), installer, output, uninstall=False)
            after = self._detect(rules, old_version, output, "after rollback")
        except StepFailed as failed:
            output.add(f"rollback to {previous.version} failed too: {failed.message}")
            return None
        if not after.installed:
            output.add(f"rollback to {previous.version} did not take effect: {after.detail}")
            return None
        self.receipts.put(Receipt(package=previous.package, version=previous.version, sha256=previous.sha256,
                                  installed_at=self.clock(), path=previous.path))
        output.add(f"rolled back to {previous.version}")
        return previous.version

    def _fetch(self, installer: NativeInstaller, output: OutputLog, progress: Progress = no_progress, *,
               keep: str | None = None) -> Path | None:
        url = getattr(installer, "url", None)
        if url is None:
            return None
        sha256: str = getattr(installer, "sha256")  # noqa: B009  pinned whenever url is set (schema)
        size: int | None = getattr(installer, "size")  # noqa: B009
        output.add(f"fetching {redact_url(url)} ({size} bytes declared)")
        suffix = SUFFIX.get(installer.type) or PurePosixPath(urlsplit(url).path).suffix.lower()
        progress("downloading", 0)
        shown = DownloadPercent(size, progress)
        path, how = self.cache.fetch(ArtifactPin(url, sha256, size), suffix, shown if size else None)
        progress("downloading", 100)
        output.add(f"artifact {how}: size and sha256 {sha256} verified")
        signature = getattr(installer, "signature", None)
        if signature is not None:
            verify_publisher(signature, sha256)
            output.add("publisher signature verified")
        # The previous version's artifact stays until this one succeeds: a failed install rolls back to it.
        self.cache.cleanup(keep={sha256} | ({keep} if keep else set()))
        return path

    def prestage(self, spec: JobSpec, progress: Progress = no_progress) -> str:
        """Download (and verify) the job's artifact into the cache ahead of its window; what was done."""
        installer = spec.package.installer
        assert installer.type != "archive"
        output = OutputLog()
        if spec.action == "uninstall" or self._fetch(installer, output, progress) is None:
            return "nothing to pre-stage"
        return output.text.splitlines()[-1] if output.text else "pre-staged"

    def _script(self, script: InlineScript, work: Path, name: str, output: OutputLog) -> None:
        path = write_script(script, work, name)
        done = self.runner(script_step(script, path, name).argv, timeout=script.timeout_seconds)
        self._show(name, done, output)
        if done.timed_out:
            raise StepFailed(f"the {name} script timed out after {script.timeout_seconds}s (its process tree "
                             "was killed)")
        if done.code != 0:
            raise StepFailed(f"the {name} script failed: {done.error or f'exit code {done.code}'}")

    def _run_steps(self, steps: list[Step], installer: NativeInstaller, output: OutputLog, *,
                   uninstall: bool) -> Verdict:
        verdict = Verdict("success", 0, "nothing ran")
        failure: StepFailed | None = None
        for step in steps:
            if failure is not None and not step.always:
                continue
            done = self.runner(step.argv, timeout=installer.timeout_seconds, env=step.env or None)
            self._show(step.what, done, output)
            try:
                result = self._judge(step, done, installer, uninstall)
            except StepFailed as exc:
                failure = failure or exc
                continue
            if step.classify:
                verdict = result
        if failure is not None:
            raise failure
        return verdict

    def _judge(self, step: Step, done: Completed, installer: NativeInstaller, uninstall: bool) -> Verdict:
        if done.timed_out:
            raise StepFailed(f"{step.what} timed out after {installer.timeout_seconds}s; its process tree was "
                             "killed")
        if done.code is None:
            raise StepFailed(f"{step.what} could not run: {done.error}")
        if not step.classify:
            if done.code != 0:
                raise StepFailed(f"{step.what} failed with exit code {done.code}")
            return Verdict("success", 0, "exit code 0")
        verdict = classify(installer.type, done.code, installer.exit_codes, uninstall=uninstall,
                           reboot=installer.reboot)
        if verdict.meaning == "retryLater":
            raise StepFailed(f"{step.what}: {verdict.text}; retry later",
                             retry_after_seconds=verdict.retry_after_seconds or RETRY_AFTER_SECONDS)
        if verdict.meaning == "failure" and held_package_lock(installer.type, done.output):
            raise StepFailed(f"{step.what}: {verdict.text}; another process holds the package database "
                             "lock (an unattended upgrade?), retry later", retry_after_seconds=RETRY_AFTER_SECONDS)
        if verdict.meaning == "failure":
            raise StepFailed(f"{step.what} failed: {verdict.text}")
        return verdict

    @staticmethod
    def _show(what: str, done: Completed, output: OutputLog) -> None:
        output.add(f"$ {' '.join(done.argv)}")
        if done.output.strip():
            output.add(done.output.rstrip())
        output.add(f"{what}: " + ("timed out" if done.timed_out else done.error or f"exit code {done.code}"))

    def _record(self, spec: JobSpec, installer: NativeInstaller) -> Receipt:
        receipt = Receipt(package=spec.package.name, version=spec.package.version,
                          sha256=getattr(installer, "sha256", None) or "", installed_at=self.clock(), path="")
        self.receipts.put(receipt)
        return receipt

    def _failed(self, spec: JobSpec, output: OutputLog, reason: str, *, retry_after_seconds: int | None = None,
                rolled_back_to: str | None = None) -> Outcome:
        output.add(f"error: {reason}")
        receipt = self.receipts.get(spec.package.name)
        message = f"{spec.action} failed" + (" (retry later)" if retry_after_seconds is not None else "")
        if rolled_back_to:
            message += f"; rolled back to {rolled_back_to}"
        return Outcome("failed", message, reason=reason, output=output.text,
                       managed=receipt.managed_item() if receipt else None,
                       retry_after_seconds=retry_after_seconds, rolled_back_to=rolled_back_to)


class DownloadPercent:
    """Turns bytes received into percentages for ``progress``, once per 10 % step (not per chunk)."""

    def __init__(self, size: int | None, progress: Progress) -> None:
        self.size = size or 0
        self.progress = progress
        self.shown = 0

    def __call__(self, got: int) -> None:
        if self.size <= 0:
            return
        percent = min(100, got * 100 // self.size)
        if percent >= self.shown + 10 and percent < 100:
            self.shown = percent - percent % 10
            self.progress("downloading", self.shown)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
