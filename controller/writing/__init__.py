"""Desired-state writes through the API, made as git commits (DESIGN.md principle 3).

The API never changes desired state in SQL: a write is an :mod:`operation
<controller.writing.operations>` (create a resource, replace its spec, assign it, create
or update it) that :class:`DesiredStateWriter` turns into a commit on a new proposal
branch or on the applied branch, validated first and rebuilt on the new tip when a push
loses a race.

The modules, each one idea: ``placing`` (where new files go), ``diffing`` → ``spans`` →
``splicing`` → ``editing`` (change one spec in YAML text, byte for byte elsewhere;
``emitting`` writes the new nodes), ``locating`` (which file declares a resource),
``trees`` (the base commit, and the edited tree as a FileSource), ``committing`` and
``pushing`` (plumbing, no checkout), ``writer`` (the attempt loop), ``errors``.
"""

from __future__ import annotations

from controller.writing.errors import NotEditable, OutsideScope, PushRefused, ResourceExists
from controller.writing.operations import Assign, Create, Operation, Replace, Target, Upsert
from controller.writing.writer import Author, DesiredStateWriter, Mode, WriteResult

__all__ = [
    "Assign",
    "Author",
    "Create",
    "DesiredStateWriter",
    "Mode",
    "NotEditable",
    "Operation",
    "OutsideScope",
    "PushRefused",
    "Replace",
    "ResourceExists",
    "Target",
    "Upsert",
    "WriteResult",
]
