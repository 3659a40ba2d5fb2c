"""Where a YAML node's text starts and ends, from the nodes ruamel.yaml composes.

A composed node knows where it starts; where its *content* ends needs care: a block
collection's end mark lies past the comments and blank lines that follow it (they
belong to whatever comes next), and a literal block scalar's end includes its final
line breaks. :func:`content_end` is the end of the last character that is part of the
value, so an edit can replace exactly that and leave a trailing ``# comment`` alone.

An alias (``*name``) composes to the node it refers to, whose marks point at the
anchor elsewhere in the file; :func:`aliased` tells such nodes apart (they start before
their own key), so an edit never rewrites text far from where it meant to.
"""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controller.writing.diffing import Path


class Unsplicable(Exception):
    """The node at ``path`` cannot be edited in place; rewrite its whole container instead."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(why)
        self.path = path


def is_empty_scalar(node: Node) -> bool:
    """A value written as nothing at all (``key:``), whose mark sits on the next line."""
    return isinstance(node, ScalarNode) and node.value == "" and node.style is None


def is_block(node: Node) -> bool:
    return isinstance(node, MappingNode | SequenceNode) and not node.flow_style


def children(node: Node) -> list[Node]:
    """The keys and values (mapping) or items (sequence) of ``node`` in written order."""
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def aliased(node: Node, written_after: int) -> bool:
    """Whether ``node``, written after index ``written_after``, is an alias: its marks are elsewhere."""
    return bool(node.start_mark.index < written_after)


def content_end(node: Node, text: str, path: Path) -> int:
    """Index just past the last character of ``node``'s own text."""
    if isinstance(node, ScalarNode):
        end = node.end_mark.index
        if node.style in ("|", ">"):
            while end > node.start_mark.index and text[end - 1] in " \t\r\n":
                end -= 1
        return int(end)
    if not is_block(node):
        return int(node.end_mark.index)
    parts = children(node)
    if not parts:
        raise Unsplicable(path, "an empty block collection")
    before = parts[-2].start_mark.index if len(parts) > 1 else node.start_mark.index
    if aliased(parts[-1], before):
        return _last_written(node, text)
    if isinstance(node, MappingNode):
        return pair_end(parts[-2], parts[-1], text, path)
    return content_end(parts[-1], text, path)


def _last_written(node: Node, text: str) -> int:
    """End of the last line of a block collection that ends in an alias: the collection's end mark
    lies past trailing blank and comment lines, so step back over them."""
    end = int(node.end_mark.index)
    while end > node.start_mark.index:
        begin = line_start(text, end - 1)
        if text[begin:end].strip() and not text[begin:end].lstrip().startswith("#"):
            return line_end(text, begin)
        end = begin - 1 if begin > 0 else 0
    return int(node.start_mark.index)


def colon_after(key: Node, text: str, path: Path) -> int:
    """Index of the ``:`` that ends a simple block mapping key."""
    index = int(key.end_mark.index)
    while index < len(text) and text[index] in " \t":
        index += 1
    if index >= len(text) or text[index] != ":":
        raise Unsplicable(path, "not a simple 'key: value' pair")
    return index


def value_span(key: Node, value: Node, text: str, path: Path) -> tuple[int, int]:
    """Where the value of a ``key: value`` pair is written: an alias (``*name``) where it stands,
    nothing just after the colon for an empty value."""
    colon = colon_after(key, text, path)
    if is_empty_scalar(value):
        return colon + 1, colon + 1
    if not aliased(value, key.end_mark.index):
        return int(value.start_mark.index), content_end(value, text, path)
    start = colon + 1
    while start < len(text) and text[start] in " \t":
        start += 1
    alias = f"*{value.anchor}"
    if not value.anchor or text[start:start + len(alias)] != alias:
        raise Unsplicable(path, "an alias that is not written right after its key")
    return start, start + len(alias)


def pair_end(key: Node, value: Node, text: str, path: Path) -> int:
    return value_span(key, value, text, path)[1]


def line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def line_end(text: str, index: int) -> int:
    """Index of the line break ending the line that holds ``index`` (``\\r\\n`` counts as one)."""
    end = text.find("\n", index)
    if end < 0:
        return len(text)
    return end - 1 if end > 0 and text[end - 1] == "\r" else end


def alone_on_line(text: str, index: int) -> bool:
    """Whether only indentation precedes ``index`` on its line."""
    return not text[line_start(text, index):index].strip()


def lookup(root: Node, path: Path, text: str) -> Node:
    """The node at ``path`` (mapping keys and list indexes) under ``root``."""
    node = root
    for depth, part in enumerate(path):
        here = path[:depth]
        parts = children(node)
        if isinstance(node, MappingNode) and isinstance(part, str):
            for key, value in zip(parts[::2], parts[1::2], strict=True):
                if isinstance(key, ScalarNode) and key.value == part:
                    if aliased(value, key.end_mark.index):  # editing inside would edit the anchor
                        raise Unsplicable((*here, part), "the value is an alias")
                    node = value
                    break
            else:
                raise Unsplicable(here, f"key {part!r} is not written here (a merge key brings it in?)")
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(parts):
            previous = parts[part - 1].start_mark.index if part else node.start_mark.index
            if aliased(parts[part], previous):
                raise Unsplicable((*here, part), "the item is an alias")
            node = parts[part]
        else:
            raise Unsplicable(here, "the written structure differs from the loaded one")
    return node


def key_node(mapping: Node, key: str, path: Path) -> tuple[Node, Node]:
    """(key, value) nodes of ``key`` in block or flow ``mapping``."""
    parts = children(mapping)
    for name, value in zip(parts[::2], parts[1::2], strict=True):
        if isinstance(name, ScalarNode) and name.value == key:
            return name, value
    raise Unsplicable(path, f"key {key!r} is not written here")
