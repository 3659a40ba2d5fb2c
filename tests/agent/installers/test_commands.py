"""Exact command lines for every installer type, against the recorded fixture (pure: runs on any OS)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import pytest

from agent.errors import JobRefused
from agent.installers.commands import expected_version, install_steps, uninstall_steps
from agent.installers.linux import APT_ENV
from agent.installers.steps import Context
from schemas.packages import parse_installer

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "command-lines.json").read_text())
PIN = {"sha256": "a" * 64, "size": 100}
DETECT = [{"type": "inventory", "name": "Tool"}]
WIN = Context(version="1.2.3", artifact=PureWindowsPath(r"C:\fw\cache\a.msi"), work_dir=PureWindowsPath(r"C:\fw\job"))
MAC = Context(version="1.2.3", artifact=PurePosixPath("/var/fw/cache/a.pkg"), work_dir=PurePosixPath("/var/fw/job"),
              console_user="alice")
LINUX = Context(version="1.2.3", artifact=PurePosixPath("/var/fw/cache/a.deb"), work_dir=PurePosixPath("/var/fw/job"))

CASES: dict[str, tuple[dict[str, Any], Context]] = {
    "msi": ({"os": "windows", "type": "msi", "url": "https://x/a.msi", **PIN, "silentArgs": ["ALLUSERS=1"],
             "productCode": "{11111111-2222-3333-4444-555555555555}"}, WIN),
    "exe": ({"os": "windows", "type": "exe", "url": "https://x/a.exe", **PIN,
             "silentArgs": ["/S", r"/D=C:\Program Files\Tool"], "detection": DETECT,
             "uninstall": {"command": [r"C:\Program Files\Tool\uninst.exe", "/S"]}},
            Context(version="1.2.3", artifact=PureWindowsPath(r"C:\fw\cache\a.exe"))),
    "msix": ({"os": "windows", "type": "msix", "url": "https://x/a.msix", **PIN, "packageName": "Contoso.Tool"},
             Context(version="1.2.3", artifact=PureWindowsPath(r"C:\fw\cache\it's.msix"))),
    "winget": ({"os": "windows", "type": "winget", "packageId": "Mozilla.Firefox", "source": "winget",
                "detection": DETECT}, WIN),
    "choco": ({"os": "windows", "type": "choco", "packageId": "7zip", "silentArgs": ["--params", "/NoDesktopIcon"],
               "detection": DETECT}, WIN),
    "pkg": ({"os": "macos", "type": "pkg", "url": "https://x/a.pkg", **PIN, "packageIdentifier": "com.example.tool",
             "uninstall": {"command": ["/usr/local/bin/tool-uninstall", "--yes"]}}, MAC),
    "dmg": ({"os": "macos", "type": "dmg", "url": "https://x/a.dmg", **PIN, "app": "Tool.app"},
            Context(version="1.2.3", artifact=PurePosixPath("/var/fw/cache/a.dmg"),
                    work_dir=PurePosixPath("/var/fw/job"))),
    "brew": ({"os": "macos", "type": "brew", "packageId": "firefox", "cask": True, "detection": DETECT}, MAC),
    "deb": ({"os": "linux", "type": "deb", "url": "https://x/a.deb", **PIN, "packageName": "hello"}, LINUX),
    "deb-dpkg": ({"os": "linux", "type": "deb", "url": "https://x/a.deb", **PIN, "packageName": "hello"},
                 Context(version="1.2.3", artifact=PurePosixPath("/var/fw/cache/a.deb"),
                         work_dir=PurePosixPath("/var/fw/job"), use_apt=False)),
    "apt": ({"os": "linux", "type": "apt", "packageId": "curl", "packageVersion": "7.88.1-10+deb12u5"}, LINUX),
    "rpm": ({"os": "linux", "type": "rpm", "url": "https://x/a.rpm", **PIN, "packageName": "hello"},
            Context(version="1.2.3", artifact=PurePosixPath("/var/fw/cache/a.rpm"))),
    "dnf": ({"os": "linux", "type": "dnf", "packageId": "htop", "source": "epel"}, LINUX),
}


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("action", ["install", "uninstall"])
def test_command_lines_match_the_recorded_fixture(kind: str, action: str) -> None:
    data, context = CASES[kind]
    installer = parse_installer(data)
    context = Context(version=expected_version(installer, "1.2.3"), artifact=context.artifact,  # type: ignore[arg-type]
                      work_dir=context.work_dir, console_user=context.console_user, use_apt=context.use_apt)
    build = install_steps if action == "install" else uninstall_steps
    steps = build(installer, context)  # type: ignore[arg-type]
    assert [list(step.argv) for step in steps] == FIXTURE[f"{kind}-{action}"]


def test_every_type_has_a_fixture() -> None:
    assert {key.rsplit("-", 1)[0] for key in FIXTURE if not key.startswith("_")} == set(CASES)


def test_apt_family_never_prompts() -> None:
    data, context = CASES["deb"]
    (step,) = install_steps(parse_installer(data), context)  # type: ignore[arg-type]
    assert step.env == APT_ENV and APT_ENV["DEBIAN_FRONTEND"] == "noninteractive"


def test_dpkg_instead_of_apt_get() -> None:
    data, _context = CASES["deb"]
    context = Context(version="1.0", artifact=PurePosixPath("/c/a.deb"), use_apt=False)
    installer = parse_installer(data)
    assert [s.argv for s in install_steps(installer, context)] == [  # type: ignore[arg-type]
        ("dpkg", "--force-confold", "--force-confdef", "-i", "/c/a.deb")]
    assert [s.argv for s in uninstall_steps(installer, context)] == [  # type: ignore[arg-type]
        ("dpkg", "--no-act", "--remove", "hello"), ("dpkg", "--remove", "hello")]


def test_dmg_always_detaches_and_mount_failures_are_not_mapped() -> None:
    data, context = CASES["dmg"]
    mount, copy, detach = install_steps(parse_installer(data), context)  # type: ignore[arg-type]
    assert (mount.classify, copy.classify, detach.classify) == (False, True, False)
    assert detach.always and not mount.always


@pytest.mark.parametrize("user", [None, "root", "loginwindow"])
def test_brew_never_runs_as_root(user: str | None) -> None:
    data, _context = CASES["brew"]
    context = Context(version="1.0", console_user=user)
    with pytest.raises(JobRefused, match="Homebrew refuses to run as root"):
        install_steps(parse_installer(data), context)  # type: ignore[arg-type]


@pytest.mark.parametrize(("data", "message"), [
    pytest.param({"os": "windows", "type": "msi", "url": "https://x/a.msi", **PIN, "detection": DETECT},
                 "no productCode and no uninstall command", id="msi-without-product-code"),
    pytest.param({"os": "macos", "type": "pkg", "url": "https://x/a.pkg", **PIN, "packageIdentifier": "a.b"},
                 "pkg installers have no native uninstall", id="pkg"),
    pytest.param({"os": "linux", "type": "script", "script": {"shell": "sh", "text": "true"}, "detection": DETECT},
                 "script installers have no native uninstall", id="script"),
])
def test_types_without_a_native_uninstall_say_what_to_add(data: dict[str, Any], message: str) -> None:
    with pytest.raises(JobRefused, match=message):
        uninstall_steps(parse_installer(data), LINUX)  # type: ignore[arg-type]
