"""A command the installer path runs, and the facts command lines are built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    what: str
    """Shown in the job output: "install", "mount", "copy the app", ..."""
    env: dict[str, str] = field(default_factory=dict)
    classify: bool = True
    """The exit code goes through the type's exit-code map; False: anything but 0 is a failure."""
    always: bool = False
    """Runs even after an earlier step failed (detaching a mounted image, say)."""


@dataclass(frozen=True)
class Context:
    """What a command line needs beyond the installer: where things are on this device."""

    version: str
    """The version to install: the installer's packageVersion, else the Package's version."""
    artifact: PurePath | None = None
    work_dir: PurePath | None = None
    """A private temp folder for this job (mount points, logs, script files)."""
    console_user: str | None = None
    """macOS: who is logged in at the console (Homebrew runs as that user)."""
    brew: str = "/opt/homebrew/bin/brew"
    use_apt: bool = True
    """Debian-family: install local .debs with apt-get (resolves dependencies) rather than dpkg -i."""
