"""Each Script's file: present in the revision, a plain file, within the size cap, UTF-8.

The text and its SHA-256 go into :attr:`DesiredState.script_files
<controller.desired.DesiredState.script_files>`, so jobs and policy bundles can carry the
exact text that was reviewed, pinned by its digest. Files are read from the same source as
the YAML (git objects of the commit, or the working folder), so a script that is not
committed is missing, as it will be for the controller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from controller.desired import ScriptFile
from controller.loading.problems import Problem
from controller.loading.sources import FileSource
from schemas.scripts import MAX_SCRIPT_BYTES, Script

if TYPE_CHECKING:
    from controller.loading.checking import Candidate


def read_script_files(source: FileSource, candidates: Sequence[Candidate]) -> tuple[dict[str, ScriptFile],
                                                                                  list[Problem]]:
    """The file of every Script candidate, by path, and a problem at ``file`` for each bad one."""
    scripts = [c for c in candidates if isinstance(c.resource, Script)]
    wanted = {c.resource.spec.file for c in scripts if isinstance(c.resource, Script)}
    if not wanted:
        return {}, []
    files: dict[str, ScriptFile] = {}
    why: dict[str, str] = {}
    for file in source.files_named(wanted):
        if file.symlink:
            why[file.path] = (f"{file.path} is a symbolic link (or inside one); git keeps only the link: "
                              "commit the script itself")
        elif file.size > MAX_SCRIPT_BYTES:
            why[file.path] = (f"{file.path} is {file.size} bytes, over the {MAX_SCRIPT_BYTES} byte limit "
                              "for a script; make it smaller")
        else:
            raw = file.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                why[file.path] = (f"{file.path} is not UTF-8 (byte {error.start}); save the script as UTF-8")
                continue
            files[file.path] = ScriptFile(file.path, text, hashlib.sha256(raw).hexdigest(), len(raw))
    problems: list[Problem] = []
    for candidate in scripts:
        assert isinstance(candidate.resource, Script)
        path = candidate.resource.spec.file
        if path in why:
            problems.append(candidate.problem(why[path], "spec", "file"))
        elif path not in files:
            problems.append(candidate.problem(
                f"no file {path} in the fleet repository; the path is relative to the fleet root "
                "(where fleet.yaml is): add the script or fix the path", "spec", "file"))
    return files, problems
