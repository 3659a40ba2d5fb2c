"""The two seams between policy automation and the loader: a Policy's checks, a Script's text.

Today the loader keeps inline checks only and does not read Script files, so:

* :func:`policy_checks` returns a Policy's inline checks and raises :class:`TemplateNotExpanded`
  for a ``template`` Policy (its PolicyTemplate expansion belongs to the loader);
* :func:`script_text` reads the Script's file from the applied revision's git objects through a
  :data:`FileReader`, capped, and pins it by SHA-256.

Both are deliberately the only places that know this, so wiring them to a loader that expands
templates and reads script files changes these two functions and nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import git
from gitdb.exc import BadName, BadObject

from controller.desired import DesiredState, Loaded
from controller.errors import FleetwardError
from schemas.checks import Check
from schemas.policies import Policy
from schemas.protocol import MAX_BUNDLE_SCRIPT_CHARS
from schemas.scripts import Script

FileReader = Callable[[str], bytes]
"""Reads a file of the applied revision by its path relative to the fleet root; raises
:class:`ScriptUnavailable` when it is missing or too big."""


class ScriptUnavailable(FleetwardError):
    """A Script's file cannot be delivered (missing, too big, not UTF-8). Permanent until the repository changes."""


class TemplateNotExpanded(FleetwardError):
    """A Policy names a template, and templates are not expanded here yet."""


def policy_checks(desired: DesiredState, policy: Loaded[Policy]) -> list[Check]:
    """The checks ``policy`` asks for."""
    spec = policy.resource.spec
    if spec.template is not None:
        raise TemplateNotExpanded(
            f"policy {policy.ref} ({policy.location}) uses template {spec.template!r}, and PolicyTemplate "
            "expansion is not available in this controller yet",
            hint="write the checks inline under spec.checks until templates are expanded")
    return list(spec.checks)


def script_text(desired: DesiredState, script: Loaded[Script], read: FileReader) -> tuple[str, str]:
    """The text of ``script``'s file in ``desired`` and its SHA-256 (of the UTF-8 bytes the agent runs)."""
    data = read(script.resource.spec.file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptUnavailable(f"{script.resource.spec.file} (Script {script.ref}, {script.location}) is not "
                                f"UTF-8 (byte {exc.start})", hint="save the script as UTF-8") from None
    if len(text) > MAX_BUNDLE_SCRIPT_CHARS:
        raise ScriptUnavailable(f"{script.resource.spec.file} (Script {script.ref}) is {len(text)} characters, "
                                f"over the {MAX_BUNDLE_SCRIPT_CHARS} a policy bundle carries",
                                hint="split the script or move the bulk into a package")
    return text, hashlib.sha256(data).hexdigest()


class GitFiles:
    """A :data:`FileReader` over one commit of a git repository (the controller's mirror), under ``subdir``."""

    def __init__(self, repo_path: Path | str, revision: str, subdir: str = "") -> None:
        self._repo_path = str(repo_path)
        self._revision = revision
        self._subdir = subdir.strip("/")

    def __call__(self, path: str) -> bytes:
        relative = PurePosixPath(self._subdir, path).as_posix() if self._subdir else path
        if ".." in PurePosixPath(path).parts:
            raise ScriptUnavailable(f"{path}: a script file must be inside the fleet folder")
        repo = git.Repo(self._repo_path)
        try:
            try:
                blob = repo.commit(self._revision).tree / relative
            except (KeyError, BadName, BadObject, ValueError):
                raise ScriptUnavailable(f"{path} is not in revision {self._revision[:12]}",
                                        hint="commit the script file next to its Script resource") from None
            if not isinstance(blob, git.Blob) or blob.mode == git.Blob.link_mode:
                raise ScriptUnavailable(f"{path} in revision {self._revision[:12]} is not a regular file")
            if blob.size > MAX_BUNDLE_SCRIPT_CHARS * 4:
                raise ScriptUnavailable(f"{path} is {blob.size} bytes, too big for a policy bundle")
            data: bytes = blob.data_stream.read()
            return data
        finally:
            repo.close()
