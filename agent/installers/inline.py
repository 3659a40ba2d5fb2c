"""Inline scripts from the Package YAML (pre/post install, detection, the ``script`` type) as commands.

The text is written to a file in the job's private work folder and run by its
shell's interpreter (never through a shell string), so nothing in it is
re-quoted on the way.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from agent.installers.steps import Step
from agent.state import write_atomic
from schemas.detection import InlineScript, Shell

SUFFIX: dict[Shell, str] = {"bash": ".sh", "sh": ".sh", "zsh": ".zsh", "python": ".py", "powershell": ".ps1",
                            "cmd": ".cmd"}


def interpreter(shell: Shell, path: PurePath) -> tuple[str, ...]:
    shown = str(path)
    return {
        "bash": ("/bin/bash", shown),
        "sh": ("/bin/sh", shown),
        "zsh": ("/bin/zsh", shown),
        "python": ("python3", shown),
        "powershell": ("powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File",
                       shown),
        "cmd": ("cmd.exe", "/d", "/c", shown),
    }[shell]


def script_step(script: InlineScript, path: PurePath, what: str, env: dict[str, str] | None = None) -> Step:
    return Step(interpreter(script.shell, path), what, env=dict(env or {}), classify=False)


def write_script(script: InlineScript, work_dir: Path, name: str) -> Path:
    path = work_dir / f"{name}{SUFFIX[script.shell]}"
    text = script.text.replace("\r\n", "\n")
    if script.shell in ("powershell", "cmd"):
        text = text.replace("\n", "\r\n")
    write_atomic(path, text.encode("utf-8"), mode=0o700)
    return path
