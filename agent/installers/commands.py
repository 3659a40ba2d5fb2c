"""Which commands an install or uninstall runs, for every non-archive type (pure)."""

from __future__ import annotations

from pathlib import PurePath

from agent.errors import JobRefused
from agent.installers import linux, macos, windows
from agent.installers.inline import script_step
from agent.installers.steps import Context, Step
from schemas.packages import (
    AptInstaller,
    BrewInstaller,
    ChocoInstaller,
    DebInstaller,
    DmgInstaller,
    DnfInstaller,
    ExeInstaller,
    MsiInstaller,
    MsixInstaller,
    NativeInstaller,
    PkgInstaller,
    RpmInstaller,
    ScriptInstaller,
    UninstallCommand,
    WingetInstaller,
)


def expected_version(installer: NativeInstaller, package_version: str) -> str:
    """The version the OS tools will report: the installer's packageVersion if it has one."""
    own = getattr(installer, "package_version", None)
    return own if isinstance(own, str) else package_version


def install_steps(installer: NativeInstaller, context: Context, script_path: PurePath | None = None) -> list[Step]:
    if isinstance(installer, MsiInstaller | ExeInstaller | MsixInstaller | WingetInstaller | ChocoInstaller):
        return windows.install_steps(installer, context)
    if isinstance(installer, PkgInstaller | DmgInstaller | BrewInstaller):
        return macos.install_steps(installer, context)
    if isinstance(installer, DebInstaller | AptInstaller | RpmInstaller | DnfInstaller):
        return linux.install_steps(installer, context)
    assert script_path is not None, "the script installer's text is written to a file first"
    env = {"FLEETWARD_ARTIFACT": str(context.artifact)} if context.artifact else {}
    env["FLEETWARD_PACKAGE_VERSION"] = context.version
    step = script_step(installer.script, script_path, "install", env)
    return [Step(step.argv, "install", env=step.env)]


def uninstall_steps(installer: NativeInstaller, context: Context) -> list[Step]:
    if isinstance(installer, MsiInstaller | ExeInstaller | MsixInstaller | WingetInstaller | ChocoInstaller):
        return windows.uninstall_steps(installer, context)
    if isinstance(installer, PkgInstaller | DmgInstaller | BrewInstaller):
        return macos.uninstall_steps(installer, context)
    if isinstance(installer, DebInstaller | AptInstaller | RpmInstaller | DnfInstaller):
        return linux.uninstall_steps(installer, context)
    assert isinstance(installer, ScriptInstaller)
    if isinstance(installer.uninstall, UninstallCommand):
        return [Step(tuple(installer.uninstall.command), "uninstall")]
    raise JobRefused("script installers have no native uninstall; give the Package uninstall: {command: [...]}")
