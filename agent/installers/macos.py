"""macOS command lines: pkg, dmg (mount read-only, ditto the app, detach), brew as the console user."""

from __future__ import annotations

from pathlib import PurePosixPath

from agent.errors import JobRefused
from agent.installers.steps import Context, Step
from schemas.packages import BrewInstaller, DmgInstaller, PkgInstaller, UninstallCommand

MacInstaller = PkgInstaller | DmgInstaller | BrewInstaller
NOT_A_USER = frozenset({"", "root", "loginwindow", "_mbsetupuser"})


def install_steps(installer: MacInstaller, context: Context) -> list[Step]:
    if isinstance(installer, PkgInstaller):
        return [Step(("/usr/sbin/installer", "-pkg", str(context.artifact), "-target", "/",
                      *installer.silent_args), "install")]
    if isinstance(installer, DmgInstaller):
        assert context.work_dir is not None
        mount = str(PurePosixPath(context.work_dir) / "mnt")
        target = str(PurePosixPath(installer.destination) / installer.app)
        return [
            Step(("/usr/bin/hdiutil", "attach", str(context.artifact), "-nobrowse", "-readonly", "-noautoopen",
                  "-mountpoint", mount), "mount the image", classify=False),
            Step(("/usr/bin/ditto", str(PurePosixPath(mount) / installer.app), target), "copy the app"),
            Step(("/usr/bin/hdiutil", "detach", mount, "-force"), "detach the image", classify=False, always=True),
        ]
    return [_as_console_user(context, "install", *(("--cask",) if installer.cask else ()), installer.package_id,
                             *installer.silent_args)]


def uninstall_steps(installer: MacInstaller, context: Context) -> list[Step]:
    if isinstance(installer.uninstall, UninstallCommand):
        return [Step(tuple(installer.uninstall.command), "uninstall")]
    if isinstance(installer, PkgInstaller):
        raise JobRefused("pkg installers have no native uninstall (macOS keeps only receipts); give the Package "
                         "uninstall: {command: [...]}")
    if isinstance(installer, DmgInstaller):
        return [Step(("/bin/rm", "-rf", "--", str(PurePosixPath(installer.destination) / installer.app)),
                     "remove the app")]
    return [_as_console_user(context, "uninstall", *(("--cask",) if installer.cask else ()), installer.package_id)]


def _as_console_user(context: Context, *args: str) -> Step:
    """Homebrew refuses to run as root: run it as whoever is logged in at the console."""
    user = context.console_user or ""
    if user in NOT_A_USER:
        raise JobRefused("brew needs a user logged in at the console (Homebrew refuses to run as root); "
                         "the job is retried when someone is logged in")
    return Step(("/usr/bin/sudo", "-u", user, "-H", "--", context.brew, *args), args[0],
                env={"HOMEBREW_NO_AUTO_UPDATE": "1", "HOMEBREW_NO_ANALYTICS": "1"})
