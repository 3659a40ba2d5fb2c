"""Where a node of a round-trip tree was written: the line and column behind every problem.

Pydantic and the cross-resource checks name a node by its path (``loc``: keys and
list indexes, as written in YAML); :func:`node_position` walks that path through the
ruamel tree. :func:`written_text` recovers the characters the author typed for a
scalar, so a hint can say ``quote it ("1.10")`` rather than the float ``1.1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from controller.loading.parsing import SourceText, position

Loc = tuple[str | int, ...]

KEY_MARK = "[key]"
"""The last ``loc`` part pydantic uses when a dict *key* (not its value) is invalid."""


def node_position(tree: CommentedMap, loc: Sequence[str | int], *, at_key: bool = False) -> tuple[int, int]:
    """1-based (line, column) of the node at ``loc``: its key when ``at_key``, else its value.

    Falls back to the deepest enclosing node that was written (a key brought in by a
    ``<<`` merge has no position of its own). Parts absent from the tree are skipped when
    more follow: pydantic puts union member tags in ``loc`` that are not in the YAML.
    """
    current: Any = tree
    found = position(tree)
    parts = list(loc)
    if parts and parts[-1] == KEY_MARK:
        parts, at_key = parts[:-1], True
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(current, CommentedMap) and _has_key(current, part):
            spots = (current.lc.data or {}).get(part)
            if spots is not None:
                line, column = (spots[0], spots[1]) if (last and at_key) else (spots[2], spots[3])
                found = (line + 1, column + 1)
            current = current[part]
        elif isinstance(current, CommentedSeq) and isinstance(part, int) and 0 <= part < len(current):
            spots = (current.lc.data or {}).get(part)
            if spots is not None:
                found = (spots[0] + 1, spots[1] + 1)
            current = current[part]
        elif isinstance(part, str) and not last:
            continue
        else:
            break
    return found


def _has_key(mapping: CommentedMap, part: str | int) -> bool:
    try:
        return part in mapping
    except TypeError:  # an unhashable part cannot be a key
        return False


def written_text(source: SourceText, line: int, column: int) -> str | None:
    """The plain scalar written at (line, column), as typed; None when out of range."""
    if not 1 <= line <= len(source.lines):
        return None
    rest = source.lines[line - 1][column - 1:]
    rest = rest.split(" #", 1)[0]
    for stop in ",]}":
        rest = rest.split(stop, 1)[0]
    return rest.strip() or None
