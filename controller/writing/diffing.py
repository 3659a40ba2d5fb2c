"""The smallest set of changes that turns one YAML value into another, as plain data.

An edit through the API says what a spec should become; :func:`diff` says which nodes
of the written YAML must change for that: a key set, added or removed, items appended
to a list. Everything the diff does not name keeps its text (comments, quoting, layout),
because :mod:`~controller.writing.splicing` rewrites only the named nodes.

``coarse`` lists paths the splicer could not edit in place (a flow mapping, a key that
shares its line with a list dash): there the diff stops and replaces the whole value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarbool import ScalarBoolean

Path = tuple[str | int, ...]
"""Keys and list indexes from the document root, e.g. ``("spec", "targets", "groups")``."""


@dataclass(frozen=True)
class Change:
    """One node to rewrite. ``path`` names the mapping key or list item (set, remove), the
    mapping that gains ``key`` (add), or the list that gains ``value`` (append)."""

    action: Literal["set", "add", "remove", "append"]
    path: Path
    value: Any = None
    key: str = ""


def plain(node: Any) -> Any:
    """ruamel's round-trip values as plain dicts, lists, str, int, float, bool, date and None."""
    if isinstance(node, CommentedMap | dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq | list | tuple):
        return [plain(item) for item in node]
    if isinstance(node, bool | ScalarBoolean):  # ruamel's anchored booleans are ints underneath
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node  # dates, timestamps and None as they are


def same(left: Any, right: Any) -> bool:
    """Equal as YAML values: unlike ``==``, ``true`` is not ``1`` and ``"1"`` is not ``1``."""
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return bool(left == right)  # 2 and 2.0 say the same to a float field
    return type(left) is type(right) and bool(left == right)


def diff(old: Any, new: Any, path: Path, coarse: Collection[Path] = ()) -> list[Change]:
    """Changes that make ``old`` (at ``path``) into ``new``; empty when they are the same."""
    if same(old, new):
        return []
    if path not in coarse:
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            return _diff_mappings(old, new, path, coarse)
        if isinstance(old, list) and isinstance(new, list):
            return _diff_lists(old, new, path, coarse)
    return [Change("set", path, new)]


def _diff_mappings(old: Mapping[str, Any], new: Mapping[str, Any], path: Path,
                   coarse: Collection[Path]) -> list[Change]:
    changes = [Change("remove", (*path, key)) for key in old if key not in new]
    for key, value in new.items():
        if key in old:
            changes += diff(old[key], value, (*path, key), coarse)
        else:
            changes.append(Change("add", path, value, key=key))
    return changes


def _diff_lists(old: Sequence[Any], new: Sequence[Any], path: Path, coarse: Collection[Path]) -> list[Change]:
    if len(new) > len(old) and all(same(a, b) for a, b in zip(old, new, strict=False)):
        return [Change("append", path, item) for item in new[len(old):]]
    if len(new) == len(old):
        changes: list[Change] = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            changes += diff(before, after, (*path, index), coarse)
        return changes
    return [Change("set", path, list(new))]


def container(change: Change) -> Path:
    """The mapping or list a change edits in: where to fall back to a whole-value rewrite."""
    return change.path if change.action in ("add", "append") else change.path[:-1]
