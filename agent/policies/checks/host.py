"""The machine as the check evaluators see it: which OS, run a command, read the registry, list things.

Every evaluator reaches the OS only through a :class:`Host`, whose parts are plain callables with
real defaults. Tests of the Windows and macOS evaluators build a Host with ``os="windows"`` and a
command runner that answers from recorded outputs (``tests/agent/fixtures/policies``); on Linux
the real defaults run. Files are read straight from the file system (a path is a path).

Commands run through :func:`agent.processes.run_process`: own process group, timeout, capped
output, the minimal environment of scripts plus ``LC_ALL=C`` so tools print the English the
parsers expect. Arguments that come from a policy (a service name, a group) are passed as argv
items or, for PowerShell, as ``FLEETWARD_ARG_*`` environment variables, never spliced into a
command line.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.facts import current_os
from agent.monitoring.probes import VolumeUsage, process_names, storage_volumes
from agent.processes import run_process
from agent.scripting import POSIX_PATH, minimal_env, private_folder
from schemas.packages import OsName
from schemas.protocol import SoftwareItem
from schemas.scripts import ScriptParameter

COMMAND_TIMEOUT_SECONDS = 60.0
MAX_COMMAND_OUTPUT_CHARS = 4 * 1024 * 1024
"""Enough for ``lsblk -J`` or a firewall ruleset; a longer output is an error, never parsed half."""

POWERSHELL = ("powershell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command")


class CommandMissing(Exception):
    """The tool is not installed (not on the agent's PATH)."""

    def __init__(self, tool: str) -> None:
        super().__init__(f"{tool} is not installed")
        self.tool = tool


class CommandFailed(Exception):
    """The tool ran but its answer cannot be used: timed out, killed, printed too much, or failed."""


@dataclass(frozen=True)
class CommandOutput:
    exit_code: int
    stdout: str
    stderr: str

    def require_success(self, what: str) -> str:
        """stdout, or :class:`CommandFailed` naming ``what`` and the tool's first error line."""
        if self.exit_code != 0:
            detail = next((line.strip() for line in self.stderr.splitlines() if line.strip()), "no message")
            raise CommandFailed(f"{what} exited with {self.exit_code}: {detail[:300]}")
        return self.stdout


@dataclass(frozen=True)
class RegistryValue:
    kind: str
    """The winreg type name: REG_SZ, REG_DWORD, ..."""
    data: str | int | bytes | list[str] | None


@dataclass(frozen=True)
class ScriptSource:
    """A library Script as a policy bundle delivers it: text, digest and how to run it."""

    name: str
    shell: str
    content: bytes
    sha256: str
    timeout_seconds: float
    os: tuple[OsName, ...] = ("linux", "windows", "macos")
    parameters: tuple[ScriptParameter, ...] = ()
    run_as: str | None = None


CommandRunner = Callable[[Sequence[str], Mapping[str, str]], CommandOutput]
"""Run argv with extra environment variables; raise :class:`CommandMissing` or :class:`CommandFailed`."""


def run_system_command(argv: Sequence[str], extra_env: Mapping[str, str]) -> CommandOutput:
    """The real runner: ``argv[0]`` looked up on the system PATH, bounded like every agent child."""
    search = None if sys.platform == "win32" else POSIX_PATH
    executable = shutil.which(argv[0], path=search)
    if executable is None:
        raise CommandMissing(argv[0])
    with private_folder() as folder:
        env = minimal_env(folder) | ({} if sys.platform == "win32" else {"LC_ALL": "C"}) | dict(extra_env)
        try:
            result = run_process([executable, *argv[1:]], env=env, cwd=folder, timeout=COMMAND_TIMEOUT_SECONDS,
                                 max_stream_chars=MAX_COMMAND_OUTPUT_CHARS)
        except OSError as exc:
            raise CommandFailed(f"{argv[0]} could not start: {exc.strerror or exc}") from exc
    if result.timed_out or result.signal is not None or result.exit_code is None:
        raise CommandFailed(f"{argv[0]} {result.describe()}")
    if result.stdout_cut:
        raise CommandFailed(f"{argv[0]} printed {result.stdout_bytes} bytes, more than a check reads")
    return CommandOutput(result.exit_code, result.stdout, result.stderr)


def read_registry(key: str, value: str) -> RegistryValue | None:
    """A value under ``HKLM\\...`` (etc.), None when the key or value is absent; Windows only."""
    if sys.platform != "win32":
        raise CommandMissing("the Windows registry")
    import winreg

    hives = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER, "HKU": winreg.HKEY_USERS,
             "HKCR": winreg.HKEY_CLASSES_ROOT, "HKCC": winreg.HKEY_CURRENT_CONFIG}
    hive, _, path = key.partition("\\")
    names = {getattr(winreg, name): name for name in dir(winreg) if name.startswith("REG_")}
    try:
        with winreg.OpenKey(hives[hive], path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as handle:
            data, kind = winreg.QueryValueEx(handle, value)
    except FileNotFoundError:
        return None
    return RegistryValue(names.get(kind, str(kind)), data)


def posix_group_members(group: str) -> list[str] | None:
    """Members of a local group (listed members and users whose primary group it is); None if no such group."""
    import grp
    import pwd

    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return None
    members = set(entry.gr_mem)
    members.update(user.pw_name for user in pwd.getpwall() if user.pw_gid == entry.gr_gid)
    return sorted(members)


def _collect_software() -> list[SoftwareItem]:
    from agent.software import collect_software

    return collect_software()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _no_scripts(name: str) -> ScriptSource | None:
    return None


@dataclass
class Host:
    """This machine (the defaults) or a recorded one (tests): every OS access a check makes."""

    os: OsName = field(default_factory=current_os)
    runner: CommandRunner = run_system_command
    registry: Callable[[str, str], RegistryValue | None] = read_registry
    software: Callable[[], list[SoftwareItem]] = _collect_software
    processes: Callable[[], set[str]] = process_names
    volumes: Callable[[], list[VolumeUsage]] = storage_volumes
    group_members: Callable[[str], list[str] | None] = posix_group_members
    scripts: Callable[[str], ScriptSource | None] = _no_scripts
    """The Scripts the policy bundle delivered, by name (none until bundles exist)."""
    clock: Callable[[], datetime] = _utc_now
    script_root: Path | None = None
    """Where script working folders go (the system temp folder when None)."""
    places: dict[str, Path] = field(default_factory=dict)
    """Overrides of well-known paths (``apt-history``, ``dpkg-log``, ...) for tests."""

    def run(self, argv: Sequence[str], **env: str) -> CommandOutput:
        return self.runner(tuple(argv), env)

    def powershell(self, script: str, **args: str) -> CommandOutput:
        """Run a fixed PowerShell script; ``args`` reach it as ``$env:FLEETWARD_ARG_<NAME>``."""
        return self.runner((*POWERSHELL, script), {f"FLEETWARD_ARG_{name.upper()}": value
                                                   for name, value in args.items()})

    def place(self, name: str, default: str) -> Path:
        return self.places.get(name, Path(default))


def parse_json(text: str, what: str) -> Any:
    """JSON a tool printed, or :class:`CommandFailed` saying which tool printed something else."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"{what} printed something that is not JSON ({exc.msg} at {exc.pos})") from exc
