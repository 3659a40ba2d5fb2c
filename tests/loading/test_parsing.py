"""Bytes to YAML documents: encoding, syntax, duplicate keys, depth, and alias bombs."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import pytest

from controller.loading.parsing import parse_file
from tests.support.fleets import package_yaml

ProblemsOf = Callable[[dict[str, str | bytes | None]], list[str]]


def bomb(levels: int = 10, fan_out: int = 10) -> str:
    """The "billion laughs": each level a list of ``fan_out`` aliases of the level below."""
    lines = [f"a0: &a0 [{','.join(['lol'] * fan_out)}]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{','.join([f'*a{level - 1}'] * fan_out)}]")
    return "\n".join(lines) + "\n"


CASES = {
    "syntax-error-at-ruamel-mark": (
        "apiVersion: fleetward/v1\nkind: [Package\n",
        ["x.yaml:3:1: YAML syntax error: while parsing a flow sequence expected ',' or ']', but got "
         "'<stream end>'"],
    ),
    "duplicate-key-at-the-second-key": (
        package_yaml() + "kind: Package\n",
        ["x.yaml:11:1: duplicate key 'kind' (first at line 2); a key may appear once per mapping"],
    ),
    "duplicate-key-in-a-nested-mapping": (
        package_yaml().replace("      type: archive\n", "      type: archive\n      os: macos\n"),
        ["x.yaml:9:7: duplicate key 'os' (first at line 7); a key may appear once per mapping"],
    ),
    "not-utf8": (
        b"apiVersion: fleetward/v1\nkind: Pack\xe4ge\n",
        ["x.yaml:2:11: the file must be UTF-8, but byte 0xe4 here is not; save the file as UTF-8"],
    ),
    "not-utf8-column-counts-characters": (
        "kind: Päck".encode() + b"\xff\n",
        ["x.yaml:1:11: the file must be UTF-8, but byte 0xff here is not; save the file as UTF-8"],
    ),
    "control-character": (
        "apiVersion: fleetward/v1\nkind: Pack\x01age\n",
        ["x.yaml:2:11: character U+0001 is not allowed in YAML; remove it"],
    ),
    "impossible-date": (
        package_yaml().replace('"1.0.0"', "2024-02-30"),
        ["x.yaml:5:12: cannot read this value: day is out of range for month"],
    ),
    "undefined-alias": (
        "apiVersion: *nope\n",
        ["x.yaml:1:13: YAML syntax error: found undefined alias 'nope'"],
    ),
    "aliased-list-as-key": (
        "a: &a [[1]]\n? *a\n: x\n",
        ["x.yaml:1:4: a list or mapping is used as a mapping key (here or through an alias of it); "
         "keys must be plain values"],
    ),
    "too-deep": (
        "a: " + "[" * 100 + "]" * 100 + "\n",
        ["x.yaml:1:67: nested more than 64 levels deep; flatten the structure"],
    ),
    "document-is-a-list": (
        "- a\n- b\n",
        ["x.yaml:1:1: document 1 is a list; each document must be a mapping with apiVersion, kind, "
         "metadata and spec"],
    ),
    "document-is-a-scalar": (
        package_yaml() + "---\njust words\n",
        ["x.yaml:12:1: document 2 is the value 'just words'; each document must be a mapping with "
         "apiVersion, kind, metadata and spec"],
    ),
    "alias-bomb": (
        bomb(),
        ["x.yaml:1:1: document 1 expands to more than 100000 nodes once aliases are followed; use "
         "fewer anchors and aliases"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), list(CASES.values()), ids=list(CASES))
def test_unreadable_yaml_is_reported_where_it_goes_wrong(
        text: str | bytes, expected: list[str]) -> None:
    raw = text if isinstance(text, bytes) else text.encode()
    _, problems, complete = parse_file("x.yaml", raw)
    assert [str(p) for p in problems] == expected
    assert not complete


def test_documents_before_a_syntax_error_are_kept() -> None:
    documents, problems, complete = parse_file("x.yaml", (package_yaml() + "---\na: [\n").encode())
    assert [d.line for d in documents] == [1]
    assert [str(p) for p in problems] == [
        "x.yaml:13:1: YAML syntax error: while parsing a flow node expected the node content, but "
        "found '<stream end>'"]
    assert not complete


def test_empty_documents_are_skipped_and_positions_are_per_document() -> None:
    text = "---\n---\n" + package_yaml() + "---\n" + package_yaml(name="other") + "---\n"
    documents, problems, complete = parse_file("x.yaml", text.encode())
    assert (problems, complete) == ([], True)
    assert [(d.index, d.line, d.column) for d in documents] == [(1, 3, 1), (2, 14, 1)]


def test_a_byte_order_mark_is_not_part_of_the_first_key() -> None:
    documents, problems, _ = parse_file("x.yaml", b"\xef\xbb\xbf" + package_yaml().encode())
    assert problems == [] and "apiVersion" in documents[0].tree


def test_redefined_anchor_follows_the_spec_and_does_not_warn() -> None:
    # pytest turns warnings into errors here, so a ruamel ReusedAnchorWarning would fail this.
    documents, problems, _ = parse_file("x.yaml", b"a: &x 1\nb: &x 2\nc: *x\n")
    assert problems == [] and documents[0].tree["c"] == 2


def test_alias_bomb_is_rejected_quickly_and_with_little_memory() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        _, problems, _ = parse_file("x.yaml", bomb().encode())
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.message for p in problems] == [
        "document 1 expands to more than 100000 nodes once aliases are followed; use fewer anchors "
        "and aliases"]
    assert elapsed < 2  # typically ~0.02 s; 10**10 nodes would never finish
    assert peak < 10 * 1024 * 1024  # typically well under 1 MB


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(bomb() + "x: 1\nx: *a9\n", id="bomb-as-a-duplicate-keys-value"),
        pytest.param(
            "a0: &a0 {" + ", ".join(f"k{i}: v" for i in range(10)) + "}\n" + "".join(
                f"a{n}: &a{n} {{<<: [{', '.join([f'*a{n - 1}'] * 10)}], m{n}: 1}}\n"
                for n in range(1, 10)),
            id="merge-keys"),
    ],
)
def test_other_alias_tricks_stay_cheap(text: str) -> None:
    # ruamel's own duplicate-key message would format the aliased value: 10**9 items.
    started = time.perf_counter()
    parse_file("x.yaml", text.encode())
    assert time.perf_counter() - started < 2


def test_aliases_are_budgeted_per_file_not_only_per_document() -> None:
    # Each document stays far below the limit; together their aliases would add 200 * 1,100 nodes.
    document = ("apiVersion: fleetward/v1\na: &a [1,2,3,4,5,6,7,8,9,10]\n"
                "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n")
    documents, problems, complete = parse_file("x.yaml", "---\n".join([document] * 200).encode())
    assert [str(p) for p in problems] == [
        "x.yaml:416:1: document 84 takes the nodes that aliases add in this file past 100000; use "
        "fewer anchors and aliases, or split the file"]
    assert len(documents) == 83 and not complete


def test_modest_aliases_load(problems_of: ProblemsOf) -> None:
    text = package_yaml().replace("  installers:\n",
                                  "  description: &d Says hello\n  displayName: *d\n  installers:\n")
    assert problems_of({"clients/acme/p.yaml": text}) == []


def test_self_referencing_alias_is_not_a_crash(problems_of: ProblemsOf) -> None:
    # ruamel resolves an alias inside its own anchor to null rather than building a cycle.
    assert problems_of({"packages/loop.yaml": "a: &a [*a]\n"})[0] == (
        "packages/loop.yaml:1:1: missing 'apiVersion'; every document starts with apiVersion: "
        "fleetward/v1")
