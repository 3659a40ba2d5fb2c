"""Load one revision of the fleet repository and validate it, reporting every problem at once.

``load_revision(source)`` returns a :class:`~controller.desired.DesiredState`, or raises
:class:`~controller.errors.RevisionInvalid` whose ``problems`` are sorted
``path:line:col: message`` entries. A revision is all or nothing: one problem
rejects the whole revision, and the caller keeps the last good one applied.
"""

from __future__ import annotations

from controller.desired import DesiredState
from controller.errors import RevisionInvalid
from controller.loading.checking import Candidate, check, scope_of
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


def _load(source: FileSource) -> tuple[DesiredState | None, list[Problem]]:
    candidates: list[Candidate] = []
    problems: list[Problem] = []
    for file in source.files():
        scope, folder_problem = scope_of(file.path)
        if folder_problem is not None:
            problems.append(problem(file.path, 1, 1, folder_problem))
            continue
        if file.size > MAX_YAML_FILE_BYTES:
            problems.append(problem(file.path, 1, 1,
                                    f"file is {file.size} bytes, over the {MAX_YAML_FILE_BYTES} byte "
                                    "limit; split it into several files"))
            continue
        documents, parse_problems = parse_file(file.path, file.read())
        problems += parse_problems
        for document in documents:
            resource, document_problems = validate_document(document)
            problems += document_problems
            if resource is not None:
                candidates.append(Candidate(resource, document, scope))
    desired, check_problems = check(candidates, [], source.revision)
    problems += check_problems
    return (desired if not problems else None), sorted(set(problems))


def check_files(source: FileSource) -> list[Problem]:
    """Every problem of ``source``, sorted; empty when it is valid."""
    return _load(source)[1]


def load_revision(source: FileSource) -> DesiredState:
    desired, problems = _load(source)
    if problems or desired is None:
        raise RevisionInvalid(source.revision, problems)
    return desired
