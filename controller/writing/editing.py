"""Change one resource's spec inside a fleet file, or write a new file, keeping everything else.

:func:`edit_spec` finds the document declaring ``kind``/``name`` in a (possibly
multi-document) file, works out the smallest changes that give its spec the new value
(:mod:`~controller.writing.diffing`) and makes them in the text
(:mod:`~controller.writing.splicing`). Other documents, and comments, key order,
quoting and layout outside the changed nodes, stay byte for byte.

Every result is checked by parsing it again: the edited document must hold exactly the
new spec and every other document exactly what it held. Where an in-place change is not
possible or the check fails, the edit falls back to rewriting a larger node (at most the
whole ``spec``); if even that cannot be done faithfully, :class:`NotEditable` — the file
is never reformatted behind the caller's back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from controller.errors import RevisionInvalid
from controller.loading.parsing import MAX_YAML_DEPTH, parse_file
from controller.writing.diffing import Change, Path, diff, plain, same
from controller.writing.emitting import Indentation, detect_indentation, dump
from controller.writing.errors import NotEditable
from controller.writing.spans import Unsplicable
from controller.writing.splicing import Document, splice

BOM = "\ufeff"
MAX_ATTEMPTS = 64
"""Each fallback makes a path coarser, so this is never reached on a real document."""

SpecChange = Callable[[Any], Any]
"""Given the spec as written (plain data, None when absent), the spec it should become."""


@dataclass(frozen=True)
class Found:
    """The document of a file that declares a resource, as plain data."""

    index: int
    """Position among the file's documents (empty ones count)."""
    document: dict[str, Any]


def declares(tree: Any, kind: str, name: str) -> bool:
    """Whether a parsed document is ``kind`` named ``name`` (whatever else is wrong with it)."""
    if not isinstance(tree, CommentedMap | dict) or tree.get("kind") != kind:
        return False
    metadata = tree.get("metadata")
    return isinstance(metadata, CommentedMap | dict) and metadata.get("name") == name


def find(path: str, raw: bytes, kind: str, name: str, revision: str) -> Found | None:
    """The document of ``raw`` declaring ``kind`` ``name``; RevisionInvalid if the file does not parse."""
    documents, problems, _complete = parse_file(path, raw)
    if problems:
        raise RevisionInvalid(revision, problems)
    for document in documents:
        if declares(document.tree, kind, name):
            return Found(document.index, plain(document.tree))
    return None


def edit_spec(path: str, raw: bytes, kind: str, name: str, change: SpecChange, revision: str) -> bytes:
    """``raw`` with the spec of ``kind`` ``name`` changed by ``change``; ``raw`` itself when
    nothing changes. NotFound-free: the caller checks :func:`find` first (ValueError here)."""
    found = find(path, raw, kind, name, revision)
    if found is None:
        raise ValueError(f"{path} declares no {kind} {name!r}")
    text = raw.decode("utf-8")
    bom = BOM if text.startswith(BOM) else ""
    text = text.removeprefix(BOM)
    old_spec = found.document.get("spec")
    new_spec = change(old_spec)
    expected = _documents(path, raw, revision)
    expected[found.index] = {**found.document, "spec": new_spec}
    root = _compose(text)[found.index]
    document = Document(root, text, detect_indentation(root, text), "\r\n" if "\r\n" in text else "\n")
    coarse: set[Path] = set()
    for _ in range(MAX_ATTEMPTS):
        if "spec" in found.document:
            changes = diff(old_spec, new_spec, ("spec",), coarse)
        else:
            changes = [Change("add", (), new_spec, key="spec")]
        if not changes:
            return raw
        try:
            edited = splice(document, changes)
        except Unsplicable as refused:
            coarse.add(_coarser(refused.path, coarse, path))
            continue
        result = (bom + edited).encode("utf-8")
        if _holds(path, result, expected, revision):
            return result
        coarse.add(_coarser(("spec",), coarse, path))
    raise NotEditable(f"{path} could not be changed without reformatting it",
                      hint="make this change in git by hand")


def _coarser(wanted: Path, coarse: set[Path], path: str) -> Path:
    while wanted in coarse and wanted:
        wanted = wanted[:-1]
    if not wanted:
        raise NotEditable(f"{path}: the document cannot be changed in place (it is written in flow style "
                          "or uses anchors and aliases around the spec)",
                          hint="make this change in git by hand, or rewrite the document in block style")
    return wanted


def _documents(path: str, raw: bytes, revision: str) -> dict[int, Any]:
    documents, problems, _complete = parse_file(path, raw)
    if problems:
        raise RevisionInvalid(revision, problems)
    return {document.index: plain(document.tree) for document in documents}


def _holds(path: str, raw: bytes, expected: dict[int, Any], revision: str) -> bool:
    try:
        found = _documents(path, raw, revision)
    except RevisionInvalid:
        return False
    return found.keys() == expected.keys() and all(same(found[i], expected[i]) for i in expected)


def _compose(text: str) -> list[Any]:
    yaml = YAML(typ="rt")
    yaml.max_depth = MAX_YAML_DEPTH
    return list(yaml.compose_all(text))


def new_file(document: dict[str, Any], schema: str) -> bytes:
    """A new fleet file holding ``document``, starting with the editor's schema line.

    ``schema`` is the path of ``resource.schema.json`` relative to the file. ``metadata``
    is written in flow style (``metadata: {name: x}``) and a spec's ``version`` quoted, as
    the fleet's own examples are.
    """
    shaped = dict(document)
    spec = shaped.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("version"), str):
        # Quoted, as the repository format asks, so "1.10" never reads as a number.
        shaped["spec"] = {**spec, "version": DoubleQuotedScalarString(spec["version"])}
    if isinstance(shaped.get("metadata"), dict):
        metadata = CommentedMap(shaped["metadata"])
        metadata.fa.set_flow_style()
        shaped["metadata"] = metadata
    body = dump(shaped, Indentation())
    return f"# yaml-language-server: $schema={schema}\n{body}".encode()
