"""A problem found in a revision: where (``path:line:col``) and what, with a fix where we know one."""

from __future__ import annotations

from dataclasses import dataclass

from controller.desired import SourceLocation


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a revision; problems sort by path, line, column, then message."""

    location: SourceLocation
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def problem(path: str, line: int, column: int, message: str) -> Problem:
    return Problem(SourceLocation(path, line, column), message)
