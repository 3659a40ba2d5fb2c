"""YAML text for new nodes, written by ruamel.yaml in the style of the file they go into.

Only nodes an edit creates or replaces are emitted; the rest of a file is never re-dumped.
Emitted text follows the file's indentation (:func:`detect_indentation`), never wraps long
lines, keeps a replaced scalar's quotes, and keeps a replaced collection flow (``[a, b]``)
or block style as it was written.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

WIDTH = 1_000_000
"""Never fold a long scalar onto a second line."""


@dataclass(frozen=True)
class Indentation:
    """ruamel's ``indent(mapping=, sequence=, offset=)``: the fleet's own files use 2, 4, 2."""

    mapping: int = 2
    sequence: int = 4
    offset: int = 2


def detect_indentation(root: Node, text: str) -> Indentation:
    """The indentation a document's block collections use, or the default where it has none.

    ``text`` is what ``root`` was composed from (marks index into it).
    """
    mapping: int | None = None
    offset: int | None = None
    stack: list[Node] = [root]
    while stack and (mapping is None or offset is None):
        node = stack.pop()
        if not isinstance(node, MappingNode) or node.flow_style or not node.value:
            continue
        column = node.value[0][0].start_mark.column
        for _key, value in node.value:
            if isinstance(value, MappingNode) and not value.flow_style and value.value and mapping is None:
                step = value.value[0][0].start_mark.column - column
                mapping = step if step > 0 else None
            if isinstance(value, SequenceNode) and not value.flow_style and value.value and offset is None:
                dash = dash_column(value.value[0], text)
                offset = dash - column if dash is not None and dash >= column else None
            stack.append(value)
            if isinstance(value, SequenceNode):
                stack.extend(value.value)
    mapping = mapping or 2
    offset = offset if offset is not None else Indentation.offset
    return Indentation(mapping=mapping, sequence=offset + 2, offset=offset)


def dash_column(item: Node, text: str) -> int | None:
    """The column of the ``-`` that introduces block-sequence ``item``; None if it is not alone
    before the item on its line (``- - x``)."""
    start = item.start_mark.index
    before = text[text.rfind("\n", 0, start) + 1:start].rstrip()
    if not before.endswith("-") or before[:-1].strip():
        return None
    return len(before) - 1


def styled(value: Any, *, flow: bool) -> Any:
    """``value`` as ruamel collections that all dump in flow (``{a: 1}``) or block style."""
    if isinstance(value, dict):
        mapping = CommentedMap((key, styled(item, flow=flow)) for key, item in value.items())
        mapping.fa.set_flow_style() if flow else mapping.fa.set_block_style()
        return mapping
    if isinstance(value, list | tuple):
        sequence = CommentedSeq(styled(item, flow=flow) for item in value)
        sequence.fa.set_flow_style() if flow else sequence.fa.set_block_style()
        return sequence
    return value


def quoted_like(value: Any, style: str | None) -> Any:
    """A new string in the quotes the value it replaces was written with."""
    if isinstance(value, str) and style == '"':
        return DoubleQuotedScalarString(value)
    if isinstance(value, str) and style == "'":
        return SingleQuotedScalarString(value)
    return value


_LINE_BREAKS = ("\x85", "\u2028", "\u2029")
"""Characters YAML reads as line breaks besides CR and LF. ruamel.yaml writes them raw inside plain
and single-quoted scalars, where a reader folds them away; double quotes escape them (\\N, \\L, \\P)."""


def _escaped_breaks(value: Any) -> Any:
    """``value`` with every string holding such a character double-quoted (collections changed in place,
    so their flow or block style stays)."""
    if isinstance(value, str):
        return DoubleQuotedScalarString(str(value)) if any(c in value for c in _LINE_BREAKS) else value
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _escaped_breaks(value[key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _escaped_breaks(item)
    return value


def dump(value: Any, indentation: Indentation) -> str:
    """A whole YAML document for ``value`` (which may carry ruamel styles), ending in a newline."""
    value = _escaped_breaks(value)
    yaml = YAML(typ="rt")
    yaml.width = WIDTH
    yaml.indent(mapping=indentation.mapping, sequence=indentation.sequence, offset=indentation.offset)
    out = io.StringIO()
    yaml.dump(value, out)
    return out.getvalue()


def _indented(text: str, column: int, newline: str) -> str:
    """Lines after the first moved right by ``column``; empty lines stay empty."""
    lines = text.rstrip("\n").split("\n")
    pad = " " * column
    return newline.join([lines[0], *(pad + line if line.strip() else line for line in lines[1:])])


def emit_pair(key: str, value: Any, indentation: Indentation, column: int, newline: str) -> str:
    """``key: value`` for a block mapping whose keys start at ``column`` (first line not padded)."""
    return _indented(dump({key: value}, indentation), column, newline)


def after_colon(pair: str) -> str:
    """What follows ``key:`` in an emitted pair (keys written through the API are plain names)."""
    return pair[pair.index(":") + 1:]


def emit_item(value: Any, indentation: Indentation, column: int, newline: str) -> str:
    """``- value`` for a block sequence whose dashes are at ``column`` (first line not padded)."""
    text = textwrap.dedent(dump([value], indentation))
    return _indented(text, column, newline)


def emit_block(value: Any, indentation: Indentation, column: int, newline: str) -> str:
    """A value on its own, as a list item's content at ``column`` (first line not padded)."""
    if isinstance(value, dict | list):
        text = textwrap.dedent(dump(value, indentation))
        return _indented(text, column, newline)
    return after_colon(emit_pair("k", value, indentation, column, newline)).lstrip(" ")


def emit_flow(value: Any) -> str:
    """``value`` on one line in flow style: ``[a, b]``, ``{group: x}``, or a scalar quoted as a
    flow context needs (``'a, b'``)."""
    text = dump(styled({"k": value}, flow=True), Indentation()).rstrip("\n")
    if not (text.startswith("{k: ") and text.endswith("}")):
        raise ValueError(f"unexpected flow rendering {text[:80]!r}")
    return text[len("{k: "):-1]
