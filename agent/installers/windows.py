"""Windows command lines: msi, exe, msix, winget, choco (pure; tested against recorded fixtures)."""

from __future__ import annotations

from pathlib import PureWindowsPath

from agent.errors import JobRefused
from agent.installers.steps import Context, Step
from schemas.packages import (
    ChocoInstaller,
    ExeInstaller,
    MsiInstaller,
    MsixInstaller,
    UninstallCommand,
    WingetInstaller,
)

WindowsInstaller = MsiInstaller | ExeInstaller | MsixInstaller | WingetInstaller | ChocoInstaller
POWERSHELL = ("powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command")


def ps_quote(text: str) -> str:
    """A PowerShell single-quoted literal: nothing inside is expanded."""
    return "'" + text.replace("'", "''") + "'"


def _log(context: Context, name: str) -> str:
    assert context.work_dir is not None
    return str(PureWindowsPath(context.work_dir) / name)


def install_steps(installer: WindowsInstaller, context: Context) -> list[Step]:
    args = tuple(installer.silent_args)
    if isinstance(installer, MsiInstaller):
        return [Step(("msiexec.exe", "/i", str(context.artifact), "/qn", "/norestart", "/L*v",
                      _log(context, "msi-install.log"), *args), "install")]
    if isinstance(installer, ExeInstaller):
        return [Step((str(context.artifact), *args), "install")]
    if isinstance(installer, MsixInstaller):
        return [Step((*POWERSHELL, f"Add-AppxPackage -Path {ps_quote(str(context.artifact))} "
                                   "-ForceApplicationShutdown -ErrorAction Stop"), "install")]
    if isinstance(installer, WingetInstaller):
        source = ("--source", installer.source) if installer.source else ()
        return [Step(("winget", "install", "--id", installer.package_id, "--exact", "--version", context.version,
                      *source, "--silent", "--scope", "machine", "--accept-package-agreements",
                      "--accept-source-agreements", "--disable-interactivity", *args), "install")]
    source = ("--source", installer.source) if installer.source else ()
    return [Step(("choco", "install", installer.package_id, "--version", context.version, *source, "--yes",
                  "--no-progress", "--limit-output", *args), "install")]


def uninstall_steps(installer: WindowsInstaller, context: Context) -> list[Step]:
    if isinstance(installer.uninstall, UninstallCommand):
        return [Step(tuple(installer.uninstall.command), "uninstall")]
    if isinstance(installer, MsiInstaller):
        if installer.product_code is None:
            raise JobRefused("this msi installer has no productCode and no uninstall command")
        return [Step(("msiexec.exe", "/x", installer.product_code, "/qn", "/norestart", "/L*v",
                      _log(context, "msi-uninstall.log")), "uninstall")]
    if isinstance(installer, ExeInstaller):
        raise JobRefused("exe installers have no native uninstall; give the Package uninstall: {command: [...]}")
    if isinstance(installer, MsixInstaller):
        return [Step((*POWERSHELL, f"Get-AppxPackage -AllUsers -Name {ps_quote(installer.package_name)} | "
                                   "Remove-AppxPackage -AllUsers -ErrorAction Stop"), "uninstall")]
    if isinstance(installer, WingetInstaller):
        source = ("--source", installer.source) if installer.source else ()
        return [Step(("winget", "uninstall", "--id", installer.package_id, "--exact", *source, "--silent",
                      "--scope", "machine", "--accept-source-agreements", "--disable-interactivity"), "uninstall")]
    return [Step(("choco", "uninstall", installer.package_id, "--yes", "--no-progress", "--limit-output"),
                 "uninstall")]
