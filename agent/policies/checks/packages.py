"""``package`` checks: a package in the software inventory, optionally at a version.

The inventory is the one the agent reports (:mod:`agent.software`: dpkg/rpm/snap/flatpak,
the Windows uninstall keys and Appx, macOS bundles and receipts), through :attr:`Host.software`.
Names compare case-insensitively; versions are ordered like dpkg orders them
(:mod:`schemas.versions`, the same order the controller's inventory search uses). ``version`` is
``1.2.3`` (exactly, in that order: ``1.2.3`` equals ``1.2.03``) or ``>=1.2.3``; ``>``, ``<=``,
``<`` and ``==`` are understood too. Any one installed copy satisfying it is enough.
"""

from __future__ import annotations

import re

from agent.policies.checks.host import Host
from agent.policies.checks.results import Finding, error, judged
from schemas.checks import PackageCheck
from schemas.versions import compare_versions

VERSION_SPEC = re.compile(r"\s*(>=|<=|==|=|>|<)?\s*(\S.*?)\s*")
_TESTS = {">=": lambda c: c >= 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, "<": lambda c: c < 0,
          "==": lambda c: c == 0, "=": lambda c: c == 0, "": lambda c: c == 0}


def evaluate_package(check: PackageCheck, host: Host) -> Finding:
    spec = None
    if check.version is not None:
        spec = VERSION_SPEC.fullmatch(check.version)
        if spec is None:
            return error(f"version {check.version!r} is not '1.2.3' or '>=1.2.3'")
    wanted = check.package.casefold()
    versions = sorted({item.version for item in host.software() if item.name.casefold() == wanted})
    shown = ", ".join(version or "(no version)" for version in versions[:10])
    if spec is None:
        present = bool(versions)
        return judged(present == check.installed, f"{check.package} is installed ({shown})" if present
                      else f"{check.package} is not installed")
    operator, version = spec.group(1) or "", spec.group(2)
    matching = [found for found in versions if found and _TESTS[operator](compare_versions(found, version))]
    wanted_text = f"{operator or '='}{version}"
    if not versions:
        return judged(not check.installed, f"{check.package} is not installed")
    if check.installed:
        return judged(bool(matching), f"{check.package} {shown} installed; wanted {wanted_text}")
    return judged(not matching, f"{check.package} {shown} installed; must not be {wanted_text}")
