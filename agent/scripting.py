"""Running a script (or an OS command) the way the agent must: verified, isolated, bounded.

Script content reaches the agent inside signed jobs or policy bundles together with its SHA-256;
:func:`run_script` checks the digest *before* anything is written or run, then:

* writes the script into a fresh private folder (``mkdtemp``: mode 0700) that is also the working
  directory, and removes the folder afterwards;
* gives it an explicit, minimal environment - ``PATH``, ``HOME`` (the folder), ``TMPDIR``,
  ``LANG=C.UTF-8`` (on Windows the system variables PowerShell needs, such as ``SYSTEMROOT``) - and
  nothing of the agent's own environment, so no secret the agent holds leaks into a script;
* runs it through :func:`agent.processes.run_process`: its own process group killed whole on timeout
  (forked grandchildren included), stdout and stderr read concurrently and capped (head and tail
  kept, the cut marked), decoded as UTF-8 with U+FFFD for anything else;
* runs it as another local user when asked (POSIX, agent running as root only: uid, gid and the
  user's supplementary groups are set before the script starts). Windows: not supported yet.

The contract with the script library (``fleet-repo-template/scripts``)
----------------------------------------------------------------------
* **Parameters** arrive as environment variables ``PARAM_<name>``, the name exactly as the Script
  declares it (``PARAM_maxDays``), never interpolated into the script text. Values are ``str()`` of
  the YAML value, except booleans, which are ``true`` / ``false``.
* **Exit code** of a check script: ``0`` compliant, ``1`` non-compliant, anything else (and a
  timeout or a signal) an error. A ``script`` check with another ``expectExitCode`` is compliant
  at that code; 0 and 1 then both mean non-compliant (:func:`script_verdict`).
* **Evidence** is the last non-empty line of standard output; keep it short and free of secrets.
* A remediation script exits 0 when it did its work; the check then runs again.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from hashlib import sha256 as sha256_of
from pathlib import Path
from typing import Literal

from agent.errors import PermanentError
from agent.processes import MAX_STREAM_CHARS, Account, RunResult, run_process
from schemas.scripts import ParameterValue, ScriptParameter

log = logging.getLogger(__name__)

Shell = Literal["bash", "sh", "zsh", "powershell", "python"]
Verdict = Literal["compliant", "non_compliant", "error"]

MAX_SCRIPT_BYTES = 1024 * 1024
"""A script larger than this is refused unread (the library's scripts are a few KiB)."""

MAX_PARAM_VALUE_CHARS = 32 * 1024

POSIX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WINDOWS_SYSTEM_VARIABLES = (
    "SYSTEMROOT", "WINDIR", "SYSTEMDRIVE", "COMSPEC", "PATHEXT", "PROGRAMDATA", "PROGRAMFILES",
    "PROGRAMFILES(X86)", "PROGRAMW6432", "COMMONPROGRAMFILES", "COMMONPROGRAMFILES(X86)", "PSMODULEPATH",
    "NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE", "OS", "ALLUSERSPROFILE", "COMPUTERNAME",
)
"""Machine-wide variables Windows programs (PowerShell above all) fail without; none is a secret."""

PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

_INTERPRETERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    # shell: (candidate executables, arguments before the script path, file suffix)
    "bash": (("bash",), ("--noprofile", "--norc"), ".sh"),
    "sh": (("sh",), (), ".sh"),
    "zsh": (("zsh",), ("-f",), ".zsh"),
    "powershell": (("pwsh",), ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File"), ".ps1"),
    "python": (("python3", "python"), ("-I",), ".py"),
}
_WINDOWS_POWERSHELL = ("powershell", "pwsh")


class ScriptRefused(PermanentError):
    """The script was not run: wrong digest, unusable parameter, interpreter missing, run-as impossible."""


def script_verdict(result: RunResult, expect_exit_code: int = 0) -> Verdict:
    """The contract: the expected code (0) is compliant, 0 or 1 otherwise non-compliant, the rest an error."""
    if result.timed_out or result.signal is not None or result.exit_code is None:
        return "error"
    if result.exit_code == expect_exit_code:
        return "compliant"
    if result.exit_code in (0, 1):
        return "non_compliant"
    return "error"


def resolve_params(declared: Sequence[ScriptParameter], given: Mapping[str, ParameterValue], *,
                   script: str) -> dict[str, ParameterValue]:
    """``given`` checked against the Script's declared parameters, with defaults filled in.

    Unknown names, missing required values and values of the wrong type are refused, each saying
    which parameter of which script and how to fix it.
    """
    by_name = {parameter.name: parameter for parameter in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise ScriptRefused(f"script {script!r} declares no parameter {', '.join(map(repr, unknown))}",
                            hint=f"declared: {', '.join(sorted(by_name)) or 'none'}")
    values: dict[str, ParameterValue] = {}
    for name, parameter in by_name.items():
        value = given.get(name, parameter.default)
        if value is None:
            if parameter.required:
                raise ScriptRefused(f"script {script!r} needs parameter {name!r}",
                                    hint=f"add {name}: <{parameter.type}> to the check's params")
            continue
        if not _has_type(value, parameter.type):
            raise ScriptRefused(
                f"parameter {name!r} of script {script!r} must be a {parameter.type}, not {value!r}",
                hint="quote the value in YAML to pass it as a string" if parameter.type == "string" else "")
        values[name] = value
    return values


def _has_type(value: ParameterValue, kind: str) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def parameter_env(params: Mapping[str, ParameterValue]) -> dict[str, str]:
    """``PARAM_<name>`` variables for ``params`` (booleans as ``true``/``false``)."""
    env: dict[str, str] = {}
    for name, value in params.items():
        if not PARAMETER_NAME.fullmatch(name):
            raise ScriptRefused(f"parameter name {name!r} cannot be an environment variable",
                                hint="use letters, digits and _ (not first), at most 64 characters")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if "\0" in text or len(text) > MAX_PARAM_VALUE_CHARS:
            raise ScriptRefused(f"parameter {name!r} has a NUL character or is over {MAX_PARAM_VALUE_CHARS} "
                                "characters", hint="pass large data in a file the script downloads")
        env[f"PARAM_{name}"] = text
    return env


def minimal_env(home: Path | str, account: Account | None = None, *,
                platform_name: str = sys.platform) -> dict[str, str]:
    """The whole environment a script starts with (before its parameters)."""
    home = str(home)
    if platform_name == "win32":
        env = {name: os.environ[name] for name in WINDOWS_SYSTEM_VARIABLES if name in os.environ}
        system_root = env.get("SYSTEMROOT", r"C:\Windows")
        env["PATH"] = ";".join((rf"{system_root}\System32", system_root, rf"{system_root}\System32\Wbem",
                                rf"{system_root}\System32\WindowsPowerShell\v1.0"))
        env.update({"TEMP": home, "TMP": home, "USERPROFILE": home, "HOME": home})
        return env
    env = {"PATH": POSIX_PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}
    if account is not None:
        env.update({"USER": account.name, "LOGNAME": account.name})
    return env


def lookup_account(name: str | None, *, platform_name: str = sys.platform, euid: int | None = None) \
        -> Account | None:
    """The local user to run as, or None for "as the agent"; refused where that cannot work.

    ``euid`` defaults to the agent's effective uid (tests pass another to see the refusal)."""
    if name is None:
        return None
    if platform_name == "win32":
        raise ScriptRefused(f"cannot run as {name!r}: running as another user is not supported on Windows yet",
                            hint="leave runAs empty; the script runs as the agent's service account")
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        raise ScriptRefused(f"cannot run as {name!r}: the agent runs as uid {euid}, and only root "
                            "may switch users", hint="run the agent as root, or leave runAs empty")
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ScriptRefused(f"cannot run as {name!r}: no such local user",
                            hint="create the user, or correct runAs") from None
    return Account(name, entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(name, entry.pw_gid)))


def interpreter(shell: str, *, search_path: str | None = None,
                platform_name: str = sys.platform) -> tuple[list[str], str]:
    """The argv before the script's path, and the script file's suffix."""
    try:
        candidates, arguments, suffix = _INTERPRETERS[shell]
    except KeyError:
        raise ScriptRefused(f"unknown shell {shell!r}", hint=f"use one of {', '.join(_INTERPRETERS)}") from None
    if shell == "powershell" and platform_name == "win32":
        candidates = _WINDOWS_POWERSHELL
    for candidate in candidates:
        default = None if platform_name == "win32" else POSIX_PATH
        found = shutil.which(candidate, path=search_path or default)
        if found:
            return [found, *arguments], suffix
    raise ScriptRefused(f"{shell} is not installed on this machine (looked for {', '.join(candidates)})",
                        hint="install it, or limit the Script's os list to machines that have it")


def run_script(content: bytes | str, *, shell: str, sha256: str, timeout: float,
               params: Mapping[str, ParameterValue] | None = None, run_as: str | None = None,
               work_root: Path | None = None, search_path: str | None = None,
               max_stream_chars: int = MAX_STREAM_CHARS) -> RunResult:
    """Run ``content`` after checking it against ``sha256``; see the module docstring for every guarantee.

    Raises :class:`ScriptRefused` (nothing ran) for a digest mismatch, an oversized script, an unusable
    parameter, a missing interpreter or an impossible run-as. Anything the script does - fail, hang,
    crash, flood - is in the :class:`RunResult`, never an exception.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    if len(data) > MAX_SCRIPT_BYTES:
        raise ScriptRefused(f"the script is {len(data)} bytes, over the {MAX_SCRIPT_BYTES}-byte limit")
    actual = sha256_of(data).hexdigest()
    if not hmac.compare_digest(actual, sha256.lower()):
        raise ScriptRefused(f"the script's SHA-256 is {actual}, not the expected {sha256[:64]}; it was not run",
                            hint="the script changed after it was signed; re-sign the bundle or job")
    env_params = parameter_env(params or {})
    argv, suffix = interpreter(shell, search_path=search_path)
    account = lookup_account(run_as)
    with private_folder(work_root, account) as folder:
        script = folder / f"script{suffix}"
        descriptor = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        if account is not None:
            os.chown(script, account.uid, account.gid)
        env = minimal_env(folder, account) | env_params
        return run_process([*argv, str(script)], env=env, cwd=folder, timeout=timeout, account=account,
                           max_stream_chars=max_stream_chars)


def _check_reachable(root: Path, account: Account) -> None:
    """Refuse early, and say why, when ``account`` could not even reach a folder under ``root``."""
    for folder in (root.resolve(), *root.resolve().parents):
        info = folder.stat()
        if info.st_uid == account.uid:
            allowed = info.st_mode & 0o100
        elif info.st_gid in account.groups:
            allowed = info.st_mode & 0o010
        else:
            allowed = info.st_mode & 0o001
        if not allowed:
            raise ScriptRefused(f"user {account.name!r} cannot enter {folder} (mode {info.st_mode & 0o777:04o}), "
                                f"so it cannot run a script from a folder under {root}",
                                hint="let the agent use a work folder every user may traverse (the system "
                                     "temp folder by default)")


@contextmanager
def private_folder(work_root: Path | None = None, account: Account | None = None) -> Iterator[Path]:
    """A fresh 0700 folder (owned by ``account`` when given), removed with everything in it afterwards."""
    if account is not None:
        _check_reachable(Path(work_root or tempfile.gettempdir()), account)
    folder = Path(tempfile.mkdtemp(prefix="fleetward-script-", dir=work_root))
    try:
        if account is not None:
            os.chown(folder, account.uid, account.gid)
        yield folder
    finally:
        try:
            shutil.rmtree(folder)
        except OSError as error:
            log.warning("could not remove %s after a script ran: %s", folder, error)
            shutil.rmtree(folder, ignore_errors=True)
