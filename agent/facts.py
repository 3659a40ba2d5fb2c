"""What the machine is: the ``facts`` inventory section, which becomes device labels.

Read fresh each time (cheap: a hostname, one small file, ``platform`` calls);
the result is hashed by :mod:`agent.inventory`, so an unchanged machine sends
nothing.
"""

from __future__ import annotations

import platform
import socket
import sys
from pathlib import Path

from agent.errors import ConfigError
from agent.version import __version__
from schemas.packages import OsName
from schemas.protocol import Facts

OS_RELEASE = Path("/etc/os-release")
MAX_OS_RELEASE_BYTES = 64 * 1024


def current_os(platform_name: str = sys.platform) -> OsName:
    if platform_name.startswith("linux"):
        return "linux"
    if platform_name in ("win32", "cygwin"):
        return "windows"
    if platform_name == "darwin":
        return "macos"
    raise ConfigError(f"this agent does not support the platform {platform_name!r}",
                      hint="Fleetward agents run on Linux, Windows and macOS")


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of os-release(5), with shell-style quotes removed."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values[key.strip()] = value
    return values


def os_version(os_name: OsName, os_release: Path = OS_RELEASE) -> str:
    if os_name == "linux":
        try:
            with os_release.open("rb") as handle:
                text = handle.read(MAX_OS_RELEASE_BYTES).decode("utf-8", "replace")
        except OSError:
            return platform.release()
        info = parse_os_release(text)
        return info.get("PRETTY_NAME") or info.get("NAME", "") or platform.release()
    if os_name == "macos":
        release = platform.mac_ver()[0]
        return f"macOS {release}" if release else ""
    return f"Windows {platform.release()} {platform.version()}".strip()


def collect_facts() -> Facts:
    os_name = current_os()
    return Facts(
        hostname=(socket.gethostname() or "unknown")[:253],
        os=os_name,
        os_version=os_version(os_name)[:200],
        arch=platform.machine()[:50],
        agent_version=__version__[:50],
    )
