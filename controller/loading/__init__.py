"""Load one revision of the fleet repository and validate it, reporting every problem at once.

``load_revision(source)`` returns a :class:`~controller.desired.DesiredState`, or raises
:class:`~controller.errors.RevisionInvalid` whose ``problems`` are sorted
``path:line:col: message`` entries. A revision is all or nothing: one problem rejects
the whole revision, and the caller keeps the last good one applied.

The stages, each its own module: ``sources`` (which files, from git objects or a
folder) → ``parsing`` (bytes to YAML documents with positions; encoding, syntax, alias
bombs) → ``validating`` (one document to one resource, with ``locating`` and
``messages`` turning pydantic errors into positions and words) → ``checking`` (across
resources: placement, duplicates, references, tenancy).
"""

from __future__ import annotations

from controller.desired import DesiredState
from controller.errors import RevisionInvalid
from controller.loading.checking import Candidate, Unseen, check, scope_of
from controller.loading.parsing import parse_file
from controller.loading.problems import Problem, problem
from controller.loading.sources import DirectorySource, FileSource, GitTreeSource, SourceFile
from controller.loading.validating import validate_document
from schemas.limits import MAX_YAML_FILE_BYTES

__all__ = [
    "DirectorySource",
    "FileSource",
    "GitTreeSource",
    "Problem",
    "SourceFile",
    "check_files",
    "load_revision",
]


def _read(file: SourceFile) -> tuple[bytes | None, Problem | None]:
    """The file's bytes, or why it is not read: a link, or too big (its size is checked first)."""
    if file.symlink:
        return None, problem(file.path, 1, 1, f"{file.path} is a symbolic link; git keeps only the "
                                              "link, not the file: commit the file itself")
    if file.size > MAX_YAML_FILE_BYTES:
        return None, problem(file.path, 1, 1, f"file is {file.size} bytes, over the "
                                              f"{MAX_YAML_FILE_BYTES} byte limit; split it into "
                                              "several files")
    return file.read(), None


def _load(source: FileSource) -> tuple[DesiredState, list[Problem]]:
    candidates: list[Candidate] = []
    problems: list[Problem] = []
    unseen = Unseen()
    for file in source.files():
        scope, misplaced = scope_of(file.path)
        if misplaced is not None:
            problems.append(problem(file.path, 1, 1, misplaced))
            continue
        raw, unread = _read(file)
        if raw is None:
            problems += [unread] if unread else []
            unseen.opaque.add(scope)
            continue
        documents, parse_problems, complete = parse_file(file.path, raw)
        problems += parse_problems
        if not complete:
            unseen.opaque.add(scope)
        for document in documents:
            resource, document_problems, claim = validate_document(document)
            problems += document_problems
            if resource is not None:
                candidates.append(Candidate(resource, document, scope))
            elif claim is not None:
                unseen.claim(claim[0], scope, claim[1])
            else:
                unseen.opaque.add(scope)
    desired, check_problems = check(candidates, unseen, source.revision)
    problems += check_problems
    return desired, sorted(set(problems))


def check_files(source: FileSource) -> list[Problem]:
    """Every problem of ``source``, sorted by path, line, column and message; empty when valid."""
    return _load(source)[1]


def load_revision(source: FileSource) -> DesiredState:
    """The desired state ``source`` declares; raises RevisionInvalid listing every problem."""
    desired, problems = _load(source)
    if problems:
        raise RevisionInvalid(source.revision, problems)
    return desired
