"""One file's contribution to a revision: its valid resources, its problems, what it might declare.

Files are independent until the cross-resource checks, so a file's result depends only on
its path and content, which is what lets :mod:`controller.loading.caching` reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.loading.checking import Candidate
from controller.loading.parsing import parse_file
from controller.loading.problems import Problem, problem
from controller.loading.sources import SourceFile
from controller.loading.validating import validate_document
from schemas.limits import MAX_YAML_FILE_BYTES


def read_capped(file: SourceFile) -> tuple[bytes | None, Problem | None]:
    """The file's bytes, or why it is not read: a link, or too big (its size is checked first)."""
    if file.symlink:
        return None, problem(file.path, 1, 1, f"{file.path} is a symbolic link; git keeps only the "
                                              "link, not the file: commit the file itself")
    if file.size > MAX_YAML_FILE_BYTES:
        return None, problem(file.path, 1, 1, f"file is {file.size} bytes, over the "
                                              f"{MAX_YAML_FILE_BYTES} byte limit; split it into "
                                              "several files")
    return file.read(), None


@dataclass(frozen=True)
class FileResult:
    """What one file contributes to a revision; reusable for another revision with the same blob."""

    candidates: tuple[Candidate, ...]
    problems: tuple[Problem, ...]
    claims: tuple[tuple[str, str], ...]
    opaque: bool


def load_file(file: SourceFile, scope: str | None) -> FileResult:
    raw, unread = read_capped(file)
    if raw is None:
        return FileResult((), (unread,) if unread else (), (), True)
    documents, parse_problems, complete = parse_file(file.path, raw)
    candidates: list[Candidate] = []
    problems = list(parse_problems)
    claims: list[tuple[str, str]] = []
    opaque = not complete
    for document in documents:
        resource, document_problems, claim = validate_document(document)
        problems += document_problems
        if resource is not None:
            candidates.append(Candidate(resource, document, scope))
        elif claim is not None:
            claims.append(claim)
        else:
            opaque = True
    return FileResult(tuple(candidates), tuple(problems), tuple(claims), opaque)
