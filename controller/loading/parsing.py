"""Bytes to YAML documents that remember where each node came from.

Round-trip parsing (ruamel.yaml) keeps line and column for every mapping key,
value and sequence item, which is how every later problem points at the exact
node. Checked here: UTF-8, YAML syntax (duplicate keys included), and alias
expansion ("billion laughs"): a document may not expand to more than
``MAX_YAML_NODES`` nodes once aliases are followed, counted with memoisation so
the count itself never does exponential work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from controller.loading.problems import Problem, problem
from schemas.limits import MAX_YAML_NODES


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: the round-trip tree and where the document starts."""

    path: str
    index: int
    tree: CommentedMap
    line: int
    column: int


class _TooBig(Exception):
    pass


class _Recursive(Exception):
    pass


def _decode(path: str, raw: bytes) -> tuple[str | None, Problem | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        return None, problem(path, line, column,
                             f"not valid UTF-8 (byte 0x{raw[error.start]:02x}); save the file as UTF-8")
    return text.removeprefix("\ufeff"), None


def expanded_size(node: Any, memo: dict[int, int], active: set[int], budget: int) -> int:
    """Nodes ``node`` expands to with aliases followed; raises past ``budget`` or on cycles."""
    if not isinstance(node, dict | list):
        return 1
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Recursive
    active.add(key)
    total = 1
    children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
    for child in children:
        total += expanded_size(child, memo, active, budget)
        if total > budget:
            raise _TooBig
    active.discard(key)
    memo[key] = total
    return total


def position(node: Any) -> tuple[int, int]:
    """1-based (line, column) where a mapping or sequence starts."""
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return (1, 1)
    return (lc.line + 1, lc.col + 1)


def parse_file(path: str, raw: bytes) -> tuple[list[Document], list[Problem]]:
    text, bad = _decode(path, raw)
    if bad is not None or text is None:
        return [], [bad] if bad else []
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        loaded = list(yaml.load_all(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (error.context, error.problem) if part)
        return [], [problem(path, line, column, f"YAML syntax error: {what}")]
    except YAMLError as error:
        return [], [problem(path, 1, 1, f"YAML error: {error}")]
    except RecursionError:
        return [], [problem(path, 1, 1, "YAML nested too deeply to read; flatten the structure")]
    documents: list[Document] = []
    problems: list[Problem] = []
    for index, tree in enumerate(loaded):
        if tree is None:
            continue
        line, column = position(tree)
        if not isinstance(tree, CommentedMap):
            kind = "a list" if isinstance(tree, CommentedSeq) else f"the value {str(tree)[:40]!r}"
            problems.append(problem(path, line, column,
                                    f"document {index + 1} is {kind}; each document must be a mapping "
                                    "with apiVersion, kind, metadata and spec"))
            continue
        try:
            expanded_size(tree, {}, set(), MAX_YAML_NODES)
        except _TooBig:
            problems.append(problem(path, line, column,
                                    f"document {index + 1} expands to more than {MAX_YAML_NODES} nodes "
                                    "once aliases are followed; use fewer anchors and aliases"))
            continue
        except (_Recursive, RecursionError):
            problems.append(problem(path, line, column,
                                    f"document {index + 1} contains an alias that refers to itself"))
            continue
        documents.append(Document(path, index, tree, line, column))
    return documents, problems
