"""Bytes to YAML documents that remember where each node came from.

Round-trip parsing (ruamel.yaml) keeps line and column for every mapping key,
value and sequence item, which is how every later problem points at the exact
node. Checked here, because nothing later can: UTF-8, YAML syntax, duplicate
keys, nesting depth, and alias expansion ("billion laughs"): a document may not
expand to more than ``MAX_YAML_NODES`` nodes once aliases are followed, nor may
the aliases of one file add more than that many in all (many small bombs make a
big one). Counting is memoised, so the count itself never does exponential work.

ruamel builds an aliased node once and shares it, so parsing a bomb is cheap;
only walking it naively is not. Everything after this module walks documents
that passed the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from controller.loading.problems import Problem, problem
from schemas.limits import MAX_YAML_NODES

MAX_YAML_DEPTH = 64
"""Nesting deeper than this is refused before ruamel's recursive composer could overflow the
stack; the deepest fleet resource nests about eight levels."""


@dataclass(frozen=True, eq=False)
class SourceText:
    """A file's decoded text, shared by its documents, for quoting what the author wrote."""

    text: str

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: the round-trip tree and where the document starts."""

    path: str
    index: int
    tree: CommentedMap
    line: int
    column: int
    source: SourceText = field(repr=False, compare=False)


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, made to fail with a position on hostile input.

    Stock ruamel raises bare ValueError/TypeError (no position) for values such as
    ``2024-02-30`` or an aliased list used as a key, and formats duplicate-key errors with
    ``str(value)``, which for an aliased value can be exponentially long.
    """

    document_start: Any = None
    """The mark where the document being built starts (scalars carry no position)."""

    def construct_document(self, node: Any) -> Any:
        self.document_start = node.start_mark
        return super().construct_document(node)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as error:
            raise ConstructorError(None, None, f"cannot read this value: {error}",
                                   node.start_mark) from None

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
        try:
            hash(key)
        except TypeError:
            raise ConstructorError(None, None, "a list or mapping is used as a mapping key (here or "
                                   "through an alias of it); keys must be plain values",
                                   key_node.start_mark) from None
        if key in mapping:
            first = (mapping.lc.data or {}).get(key)
            where = f" (first at line {first[0] + 1})" if first else ""
            raise ConstructorError(None, None, f"duplicate key {str(key)[:60]!r}{where}; a key may "
                                   "appear once per mapping", key_node.start_mark)
        return True


def _reader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.max_depth = MAX_YAML_DEPTH
    # Redefining an anchor is valid YAML; ruamel would emit a warning on stderr (an error under
    # pytest). The later definition wins, as the spec says.
    yaml.composer.warn_double_anchors = False
    return yaml


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _decode(path: str, raw: bytes) -> tuple[str | None, Problem | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        # Columns count characters, as editors do; the bytes before the bad one are valid UTF-8.
        column = len(raw[line_start:error.start].decode("utf-8")) + 1
        line = raw.count(b"\n", 0, error.start) + 1
        return None, problem(path, line, column, f"the file must be UTF-8, but byte "
                                                 f"0x{raw[error.start]:02x} here is not; save the "
                                                 "file as UTF-8")
    return text.removeprefix("\ufeff"), None


class _TooBig(Exception):
    pass


class NodeCount:
    """Counts the nodes a document expands to with aliases followed, and how many were written.

    Memoised by object identity, so a node shared through aliases is counted once per
    reference but walked once: a 10-level, 10-alias bomb costs about a hundred steps.
    ruamel resolves an alias inside its own anchor to null rather than building a cycle;
    should a cycle ever appear, meeting a node still being counted means infinitely many
    nodes, refused as too many.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.written = 1
        """Nodes as written (each shared node once): the root plus every child slot walked."""
        self._memo: dict[int, int] = {}

    def expanded(self, node: Any) -> int:
        """Nodes under and including ``node``; raises :class:`_TooBig` past the budget."""
        if isinstance(node, str | bytes) or not isinstance(node, dict | list | tuple | set | frozenset):
            return 1
        key = id(node)
        known = self._memo.get(key)
        if known is not None:
            if known < 0:
                raise _TooBig
            return known
        self._memo[key] = -1
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else list(node)
        self.written += len(children)
        total = 1
        for child in children:
            total += self.expanded(child)
            if total > self.budget:
                raise _TooBig
        self._memo[key] = total
        return total


def position(node: Any) -> tuple[int, int]:
    """1-based (line, column) where a mapping or sequence starts."""
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return (1, 1)
    return (lc.line + 1, lc.col + 1)


def _syntax_problem(path: str, text: str, error: YAMLError) -> Problem:
    if isinstance(error, MaxDepthExceededError) and error.problem_mark:
        mark = error.problem_mark
        return problem(path, mark.line + 1, mark.column + 1,
                       f"nested more than {MAX_YAML_DEPTH} levels deep; flatten the structure")
    if isinstance(error, MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(str(part) for part in (error.context, error.problem) if part)
        if isinstance(error, ConstructorError):  # the syntax was fine; a value was not
            return problem(path, line, column, what)
        return problem(path, line, column, f"YAML syntax error: {what}")
    if isinstance(error, ReaderError) and isinstance(error.position, int):
        line, column = _line_col(text, error.position)
        return problem(path, line, column, f"character U+{error.character:04X} is not allowed in "
                                           "YAML; remove it")
    return problem(path, 1, 1, f"YAML error: {error}")


def parse_file(path: str, raw: bytes) -> tuple[list[Document], list[Problem], bool]:
    """The mapping documents of one file, the problems found, and whether all of it was read.

    Documents before a syntax error are kept (their own problems are worth reporting); the
    third value is False when some of the file could not be read, so callers know that the
    file may declare resources they cannot see.
    """
    text, bad = _decode(path, raw)
    if bad is not None or text is None:
        return [], [bad] if bad else [], False
    source = SourceText(text)
    documents: list[Document] = []
    problems: list[Problem] = []
    complete = True
    aliased = 0  # nodes that aliases add, over the whole file
    yaml = _reader()
    try:
        for index, tree in enumerate(yaml.load_all(text)):
            if tree is None:
                continue  # an empty document, as a trailing '---' makes
            line, column = position(tree)
            if not isinstance(tree, CommentedMap):
                start = yaml.constructor.document_start
                line, column = (start.line + 1, start.column + 1) if start else (line, column)
                kind = "a list" if isinstance(tree, CommentedSeq) else f"the value {str(tree)[:40]!r}"
                problems.append(problem(path, line, column,
                                        f"document {index + 1} is {kind}; each document must be a "
                                        "mapping with apiVersion, kind, metadata and spec"))
                complete = False
                continue
            count = NodeCount(MAX_YAML_NODES)
            try:
                aliased += count.expanded(tree) - count.written
            except _TooBig:
                problems.append(problem(path, line, column,
                                        f"document {index + 1} expands to more than {MAX_YAML_NODES} "
                                        "nodes once aliases are followed; use fewer anchors and "
                                        "aliases"))
                return documents, problems, False
            if aliased > MAX_YAML_NODES:
                problems.append(problem(path, line, column,
                                        f"document {index + 1} takes the nodes that aliases add in "
                                        f"this file past {MAX_YAML_NODES}; use fewer anchors and "
                                        "aliases, or split the file"))
                return documents, problems, False
            documents.append(Document(path, index, tree, line, column, source))
    except YAMLError as error:
        problems.append(_syntax_problem(path, text, error))
        complete = False
    except RecursionError:  # ruamel's composer recurses; max_depth should stop it first
        problems.append(problem(path, 1, 1, "YAML nested too deeply to read; flatten it"))
        complete = False
    return documents, problems, complete
