"""Load one revision of the fleet repository and validate it, reporting every problem at once.

``load_revision(source)`` returns a :class:`~controller.desired.DesiredState`, or raises
:class:`~controller.errors.RevisionInvalid` whose ``problems`` are sorted
``path:line:col: message`` entries. A revision is all or nothing: one problem rejects
the whole revision, and the caller keeps the last good one applied.

The stages, each its own module: ``sources`` (which files, from git objects or a
folder) → ``parsing`` (bytes to YAML documents with positions; encoding, syntax, alias
bombs) → ``validating`` (one document to one resource, with ``locating`` and
``messages`` turning pydantic errors into positions and words) → ``checking`` (across
resources: placement, duplicates, references, tenancy, with ``expanding`` rendering policy
templates) → ``scriptfiles`` (each Script's file read from the same source).
"""

from __future__ import annotations

from dataclasses import replace

from controller.desired import DesiredState
from controller.errors import RevisionInvalid
from controller.loading.caching import ParseCache
from controller.loading.checking import Candidate, Unseen, check, scope_of
from controller.loading.files import load_file
from controller.loading.problems import Problem, problem
from controller.loading.scriptfiles import read_script_files
from controller.loading.sources import DirectorySource, FileSource, GitTreeSource, SourceFile

__all__ = [
    "DirectorySource",
    "FileSource",
    "GitTreeSource",
    "ParseCache",
    "Problem",
    "SourceFile",
    "check_files",
    "load_revision",
]


def _load(source: FileSource, cache: ParseCache | None = None) -> tuple[DesiredState, list[Problem]]:
    candidates: list[Candidate] = []
    problems: list[Problem] = []
    unseen = Unseen()
    used: set[tuple[str, str]] = set()
    for file in source.files():
        scope, misplaced = scope_of(file.path)
        if misplaced is not None:
            problems.append(problem(file.path, 1, 1, misplaced))
            continue
        result = cache.result(file, scope, used) if cache is not None else load_file(file, scope)
        candidates += result.candidates
        problems += result.problems
        for kind, name in result.claims:
            unseen.claim(kind, scope, name)
        if result.opaque:
            unseen.opaque.add(scope)
    if cache is not None:
        cache.finish(used)
    desired, check_problems = check(candidates, unseen, source.revision)
    problems += check_problems
    script_files, script_problems = read_script_files(source, candidates)
    problems += script_problems
    desired = replace(desired, script_files=script_files)
    return desired, sorted(set(problems))


def check_files(source: FileSource) -> list[Problem]:
    """Every problem of ``source``, sorted by path, line, column and message; empty when valid."""
    return _load(source)[1]


def load_revision(source: FileSource, cache: ParseCache | None = None) -> DesiredState:
    """The desired state ``source`` declares; raises RevisionInvalid listing every problem.

    With ``cache``, files whose git blob was parsed before are not parsed again.
    """
    desired, problems = _load(source, cache)
    if problems:
        raise RevisionInvalid(source.revision, problems)
    return desired
