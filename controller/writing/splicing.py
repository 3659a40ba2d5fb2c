"""Apply :class:`~controller.writing.diffing.Change` s to YAML text, touching only what they name.

Each change becomes one text edit inside the document: a value replaced from just after
its ``key:`` to the end of the value (a trailing comment stays), a pair or list item
inserted after the last line of its mapping or list, a pair's lines deleted. The text of
everything else — other documents, comments, quoting, blank lines, flow or block style
— is copied unchanged, byte for byte, because it is never re-emitted.

When a change cannot be made this way (a key inside a flow mapping ``{a: 1}``, a key
sharing its line with a list dash, an alias) :class:`~controller.writing.spans.Unsplicable`
names the container to rewrite whole instead; the caller re-diffs with it coarse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controller.writing.diffing import Change, Path, container
from controller.writing.emitting import (
    Indentation,
    after_colon,
    dash_column,
    emit_block,
    emit_flow,
    emit_item,
    emit_pair,
    quoted_like,
    styled,
)
from controller.writing.spans import (
    Unsplicable,
    aliased,
    alone_on_line,
    children,
    colon_after,
    content_end,
    is_block,
    is_empty_scalar,
    key_node,
    line_end,
    line_start,
    lookup,
    pair_end,
    value_span,
)


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str
    container: Path
    order: int
    """Insertions at one position keep the order of their changes."""


@dataclass(frozen=True)
class Document:
    """The composed root of the document being edited, and the whole file's text."""

    root: Node
    text: str
    indentation: Indentation
    newline: str


def splice(document: Document, changes: Sequence[Change]) -> str:
    """The file's text with ``changes`` made; Unsplicable when one cannot be made in place."""
    edits = [_edit(document, change, order) for order, change in enumerate(changes)]
    # Insertions (empty spans) come before a deletion starting at the same place, so a pair
    # added after a removed last pair lands after the line that stays.
    edits.sort(key=lambda edit: (edit.start, edit.end != edit.start, edit.order))
    text, pieces, cursor = document.text, [], 0
    for edit in edits:
        if edit.start < cursor:
            raise Unsplicable(edit.container, "two changes touch the same text")
        pieces += [text[cursor:edit.start], edit.text]
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _edit(document: Document, change: Change, order: int) -> Edit:
    where = container(change)
    node = lookup(document.root, where, document.text)
    if change.action == "set":
        last = change.path[-1]
        if isinstance(last, str):
            start, end, text = _set_pair(document, node, last, change.value, where)
        else:
            start, end, text = _set_item(document, node, last, change.value, where)
    elif change.action == "add":
        start, text = _add_pair(document, node, change.key, change.value, where)
        end = start
    elif change.action == "append":
        start, text = _append_item(document, node, change.value, where)
        end = start
    else:
        last = change.path[-1]
        assert isinstance(last, str)
        start, end = _remove_pair(document, node, last, where)
        text = ""
    return Edit(start, end, text, where, order)


def _block_mapping(node: Node, where: Path) -> MappingNode:
    if not isinstance(node, MappingNode) or not is_block(node) or not node.value:
        raise Unsplicable(where, "not a block mapping")
    return node


def _block_sequence(node: Node, where: Path) -> SequenceNode:
    if not isinstance(node, SequenceNode) or not is_block(node) or not node.value:
        raise Unsplicable(where, "not a block sequence")
    return node


def _new_value(old: Node, value: Any) -> tuple[Any, bool]:
    """``value`` styled like the node it replaces: (value to emit, emit it in flow style)."""
    if isinstance(old, MappingNode | SequenceNode) and isinstance(value, dict | list):
        return value, bool(old.flow_style)
    if isinstance(old, ScalarNode):
        return quoted_like(value, old.style), False
    return value, False


def _set_pair(document: Document, node: Node, key: str, value: Any, where: Path) -> tuple[int, int, str]:
    if not isinstance(node, MappingNode) or not node.value:
        raise Unsplicable(where, "not a mapping")
    name, old = key_node(node, key, where)
    emitted, flow = _new_value(old, value)
    start, end = value_span(name, old, document.text, where)
    if not is_block(node) or flow:
        # Inside a flow collection, or a flow collection replaced by another: only the value's
        # own characters change ("{every: 4h}" -> "{every: 1d}").
        if is_empty_scalar(old) or (not is_block(node) and isinstance(value, dict | list) and not flow):
            raise Unsplicable(where, "a flow mapping gains a nested collection")
        return start, end, emit_flow(emitted)
    colon = colon_after(name, document.text, where)
    pair = emit_pair(key, styled(emitted, flow=False), document.indentation, name.start_mark.column,
                     document.newline)
    after = after_colon(pair)
    if start > colon + 1 and "\n" not in after and not isinstance(value, dict | list):
        # A scalar (or an alias) for a scalar: keep the spacing after the colon ("mode:   audit").
        return start, end, after.lstrip(" ")
    return colon + 1, end, after


def _set_item(document: Document, node: Node, index: int, value: Any, where: Path) -> tuple[int, int, str]:
    if not isinstance(node, SequenceNode) or index >= len(node.value):
        raise Unsplicable(where, "not a list")
    parts = children(node)
    item = parts[index]
    if aliased(item, parts[index - 1].start_mark.index if index else node.start_mark.index):
        raise Unsplicable(where, "the item is an alias")
    emitted, flow = _new_value(item, value)
    start, end = item.start_mark.index, content_end(item, document.text, where)
    if not is_block(node) or flow:
        if is_empty_scalar(item) or (not is_block(node) and isinstance(value, dict | list) and not flow):
            raise Unsplicable(where, "a flow list gains a nested collection")
        return start, end, emit_flow(emitted)
    if is_empty_scalar(item) or dash_column(item, document.text) is None:
        raise Unsplicable(where, "a list item that is not '- value' on its own line")
    text = emit_block(styled(emitted, flow=False), document.indentation, item.start_mark.column,
                      document.newline)
    return start, end, text


def _add_pair(document: Document, node: Node, key: str, value: Any, where: Path) -> tuple[int, str]:
    mapping = _block_mapping(node, where)
    column = mapping.value[0][0].start_mark.column
    at = line_end(document.text, content_end(mapping, document.text, where))
    pair = emit_pair(key, styled(value, flow=False), document.indentation, column, document.newline)
    return at, document.newline + " " * column + pair


def _append_item(document: Document, node: Node, value: Any, where: Path) -> tuple[int, str]:
    sequence = _block_sequence(node, where)
    dash = dash_column(children(sequence)[0], document.text)
    if dash is None:
        raise Unsplicable(where, "a list whose first item does not start a line with '- '")
    at = line_end(document.text, content_end(sequence, document.text, where))
    item = emit_item(styled(value, flow=False), document.indentation, dash, document.newline)
    return at, document.newline + " " * dash + item


def _remove_pair(document: Document, node: Node, key: str, where: Path) -> tuple[int, int]:
    mapping = _block_mapping(node, where)
    if len(mapping.value) < 2:
        raise Unsplicable(where, "removing the only key leaves an empty mapping")
    text = document.text
    name, value = key_node(mapping, key, where)
    begin = line_start(text, name.start_mark.index)
    if begin == 0 or not alone_on_line(text, name.start_mark.index):
        raise Unsplicable(where, "the key shares its line with something else")
    start = begin - 2 if begin >= 2 and text[begin - 2] == "\r" else begin - 1
    return start, line_end(text, pair_end(name, value, text, where))
