"""Linux command lines: deb (apt-get or dpkg), apt, rpm, dnf. Never interactive, never asking about conffiles."""

from __future__ import annotations

from agent.installers.steps import Context, Step
from schemas.packages import AptInstaller, DebInstaller, DnfInstaller, RpmInstaller, UninstallCommand

LinuxInstaller = DebInstaller | AptInstaller | RpmInstaller | DnfInstaller

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}
# Keep locally changed config files and take the package's default otherwise: a prompt would hang the job.
APT_OPTIONS = ("-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef")


def install_steps(installer: LinuxInstaller, context: Context) -> list[Step]:
    args = tuple(installer.silent_args)
    if isinstance(installer, DebInstaller):
        if context.use_apt:
            return [Step(("apt-get", "install", "-y", "--allow-downgrades", *APT_OPTIONS, *args,
                          str(context.artifact)), "install", env=APT_ENV)]
        return [Step(("dpkg", "--force-confold", "--force-confdef", *args, "-i", str(context.artifact)), "install",
                     env=APT_ENV)]
    if isinstance(installer, AptInstaller):
        return [Step(("apt-get", "install", "-y", "--allow-downgrades", *APT_OPTIONS, *args,
                      f"{installer.package_id}={context.version}"), "install", env=APT_ENV)]
    if isinstance(installer, RpmInstaller):
        return [Step(("rpm", "-U", "--oldpackage", "--replacepkgs", *args, str(context.artifact)), "install")]
    repo = ("--repo", installer.source) if installer.source else ()
    return [Step(("dnf", "install", "-y", "--allowerasing", *repo, *args,
                  f"{installer.package_id}-{context.version}"), "install")]


def uninstall_steps(installer: LinuxInstaller, context: Context) -> list[Step]:
    if isinstance(installer.uninstall, UninstallCommand):
        return [Step(tuple(installer.uninstall.command), "uninstall")]
    if isinstance(installer, DebInstaller | AptInstaller):
        # dpkg, not apt-get: `apt-get remove -y` would also remove every installed package that depends
        # on this one, unasked; dpkg refuses and says which package needs it. The --no-act pass asks
        # first, because a refused real removal still marks the package for removal (selection deinstall).
        name = installer.package_name if isinstance(installer, DebInstaller) else installer.package_id
        return [Step(("dpkg", "--no-act", "--remove", name), "check that nothing installed needs it", env=APT_ENV,
                     classify=False),
                Step(("dpkg", "--remove", name), "uninstall", env=APT_ENV)]
    if isinstance(installer, RpmInstaller):
        return [Step(("rpm", "-e", installer.package_name), "uninstall")]
    return [Step(("dnf", "remove", "-y", installer.package_id), "uninstall")]
