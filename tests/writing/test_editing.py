"""Changing one spec inside a hand-written file: the change is made, and nothing else moves a byte."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from controller.errors import RevisionInvalid
from controller.writing.diffing import same
from controller.writing.editing import edit_spec, new_file
from controller.writing.errors import NotEditable
from tests.writing.texts import RICH

PATH = "clients/acme/disk.yaml"


def edit(text: str, kind: str, name: str, change: Any) -> str:
    return edit_spec(PATH, text.encode(), kind, name, change, "base").decode()


def documents(text: str) -> list[Any]:
    return [doc for doc in YAML(typ="safe").load_all(text) if doc is not None]


def spec_of(text: str, kind: str) -> Any:
    return next(doc for doc in documents(text) if doc["kind"] == kind)["spec"]


def test_assigning_appends_to_the_list_and_adds_the_missing_key_leaving_every_other_byte():
    def assign(spec: Any) -> Any:
        spec = copy.deepcopy(spec)
        spec["targets"]["devices"].append("pc-3")
        spec["targets"]["groups"] = ["windows-boxes"]
        return spec

    edited = edit(RICH, "Policy", "enough-disk", assign)

    assert edited == RICH.replace('    - "pc-2"\n', '    - "pc-2"\n    - pc-3\n    groups:\n      - windows-boxes\n')


def test_replacing_a_spec_rewrites_only_the_values_that_changed_keeping_quotes_spacing_and_comments():
    new = {"description": "Keep 20% free", "targets": {"group": "linux-boxes", "devices": ["pc-1", "pc-2"]},
           "mode": "enforce", "schedule": {"every": "1h"},
           "checks": [{"name": "free", "script": "disk-free", "params": {"min_percent": 20, "unit": "GiB"}}]}

    edited = edit(RICH, "Policy", "enough-disk", lambda _old: new)

    expected = (RICH.replace("'Keep disks from filling up'", "'Keep 20% free'")
                .replace("mode:   audit", "mode:   enforce")
                .replace("{every: 4h}", "{every: 1h}")
                .replace('{min_percent: 15, unit: "GiB"}', '{min_percent: 20, unit: "GiB"}'))
    assert edited == expected


def test_removed_keys_lose_their_lines_and_new_keys_go_after_the_last_one():
    def change(spec: Any) -> Any:
        spec = {key: value for key, value in spec.items() if key not in ("schedule", "description")}
        spec["template"] = None
        return spec

    edited = edit(RICH, "Policy", "enough-disk", change)

    expected = (RICH.replace("  description: 'Keep disks from filling up'    # single quoted on purpose\n", "")
                .replace("  schedule: {every: 4h}   # every four hours\n", "")
                .replace('unit: "GiB"}\n', 'unit: "GiB"}\n  template:\n'))
    assert edited == expected


def test_a_key_added_to_a_flow_mapping_rewrites_that_mapping_only_and_keeps_its_comment():
    def change(spec: Any) -> Any:
        spec = copy.deepcopy(spec)
        spec["routing"]["board"] = "Service Desk"
        spec["match"]["severities"].append("warning")
        spec["persistMinutes"] = 10
        return spec

    edited = edit(RICH, "AlertTicketRule", "critical-disk", change)

    expected = (RICH.replace("      - critical\n", "      - critical\n      - warning\n")
                .replace("{priority: high}    # paged\n",
                         "{priority: high, board: Service Desk}    # paged\n  persistMinutes: 10\n"))
    assert edited == expected


def test_an_unchanged_spec_returns_the_very_same_bytes():
    raw = RICH.encode()
    assert edit_spec(PATH, raw, "Policy", "enough-disk", lambda spec: copy.deepcopy(spec), "base") is raw


def test_windows_line_endings_and_a_byte_order_mark_are_kept():
    crlf = "\ufeff" + RICH.replace("\n", "\r\n")

    def change(spec: Any) -> Any:
        return {**spec, "mode": "enforce", "targets": {**spec["targets"], "devices": ["pc-1", "pc-2", "pc-9"]},
                "template": None}

    edited = edit_spec(PATH, crlf.encode(), "Policy", "enough-disk", change, "base").decode()

    expected = (crlf.replace("mode:   audit", "mode:   enforce")
                .replace('    - "pc-2"\r\n', '    - "pc-2"\r\n    - pc-9\r\n')
                .replace('unit: "GiB"}\r\n', 'unit: "GiB"}\r\n  template:\r\n'))
    assert edited == expected


def test_a_spec_written_in_flow_style_is_changed_in_flow_style():
    text = RICH.replace("""  match:
    alertTypes: [disk_free]
    severities:
      - critical
  routing: {priority: high}    # paged
""", "  {match: {alertTypes: [disk_free]}, routing: {priority: high}}    # all on one line\n").replace(
        "metadata: {name: critical-disk}\nspec:\n", "metadata: {name: critical-disk}\nspec:\n")

    edited = edit(text, "AlertTicketRule", "critical-disk",
                  lambda spec: {**spec, "routing": {"priority": "low"}, "enabled": False})

    assert spec_of(edited, "AlertTicketRule") == {"match": {"alertTypes": ["disk_free"]},
                                                  "routing": {"priority": "low"}, "enabled": False}
    assert edited.endswith("}    # all on one line\n")
    assert edited.split("kind: AlertTicketRule")[0] == text.split("kind: AlertTicketRule")[0]


def test_a_spec_that_uses_anchors_is_still_changed_correctly_and_nothing_outside_it_moves():
    text = RICH.replace("  description: 'Keep disks from filling up'", "  description: &why 'Keep disks free'").replace(
        "script: disk-free      # from the library", "script: disk-free      # from the library\n      name2: *why")

    edited = edit(text, "Policy", "enough-disk", lambda spec: {**spec, "description": "changed"})

    policy = spec_of(edited, "Policy")
    assert policy["description"] == "changed"
    assert policy["checks"][0]["name2"] == "Keep disks free"  # the alias kept its meaning
    head, tail = text.split("spec:\n  # What it is for")[0], text.split("# end of the policy")[1]
    assert edited.startswith(head) and edited.endswith(tail)


def test_a_document_written_entirely_in_flow_style_keeps_it():
    text = ("{apiVersion: fleetward/v1, kind: Policy, metadata: {name: p},   spec: {targets: {group: a}, "
            "checks: [{name: c, script: s}]}}   # one line\n")

    edited = edit(text, "Policy", "p", lambda spec: {**spec, "mode": "enforce"})

    assert edited == text.replace("script: s}]}", "script: s}], mode: enforce}")


def test_a_document_that_cannot_take_a_spec_in_place_is_refused_not_reformatted():
    text = "{apiVersion: fleetward/v1, kind: AlertTicketRule, metadata: {name: r}}\n"

    with pytest.raises(NotEditable, match="cannot be changed in place"):
        edit(text, "AlertTicketRule", "r", lambda _spec: {"enabled": False})


def test_a_file_that_does_not_parse_is_not_edited():
    with pytest.raises(RevisionInvalid) as raised:
        edit(RICH + "  bad: [\n", "Policy", "enough-disk", lambda spec: spec)
    assert "YAML syntax error" in str(raised.value.problems[0])


def test_a_new_file_starts_with_the_schema_line_and_reads_back():
    document = {"apiVersion": "fleetward/v1", "kind": "Package", "metadata": {"name": "tool"},
                "spec": {"version": "1.10", "installers": [{"os": "linux", "type": "archive",
                                                            "url": "https://example.com/t.tar.gz",
                                                            "sha256": "0" * 64}]}}

    text = new_file(document, "../.fleetward/schemas/resource.schema.json").decode()

    assert text.splitlines()[0] == "# yaml-language-server: $schema=../.fleetward/schemas/resource.schema.json"
    assert 'metadata: {name: tool}\n' in text and 'version: "1.10"\n' in text
    assert documents(text) == [document]


# -- any change to the spec, made in place ------------------------------------------------------

_words = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
_hosts = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), max_size=4)


@st.composite
def policy_specs(draw: st.DrawFn) -> dict[str, Any]:
    original = spec_of(RICH, "Policy")
    spec: dict[str, Any] = {}
    for key, value in original.items():
        if draw(st.booleans()):
            spec[key] = copy.deepcopy(value)
    if draw(st.booleans()):
        spec["description"] = draw(_words)
    if draw(st.booleans()):
        spec["mode"] = draw(st.sampled_from(["audit", "enforce"]))
    if draw(st.booleans()):
        spec.setdefault("targets", {})["devices"] = draw(_hosts)
    if draw(st.booleans()):
        spec["schedule"] = {"every": draw(st.sampled_from(["1h", "30m", "2d"]))}
    if draw(st.booleans()):
        spec["params"] = draw(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                                              st.integers() | _words | st.booleans(), max_size=3))
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_specs())
def test_any_new_spec_is_written_exactly_and_the_other_documents_stay_byte_for_byte(new: dict[str, Any]):
    edited = edit(RICH, "Policy", "enough-disk", lambda _old: new)

    assert same(spec_of(edited, "Policy"), new)
    before, after = RICH.split("spec:\n  # What it is for")[0], RICH.split("# end of the policy")[1]
    assert edited.startswith(before) and edited.endswith(after)
    if new:  # comment lines inside the spec stay (unless the spec becomes {} as a whole)
        assert "  # What it is for\n" in edited


@pytest.mark.parametrize("text", [pytest.param("\x85", id="next-line"), pytest.param("a\u2028b", id="line-sep"),
                                  pytest.param("x\u2029y", id="paragraph-sep")])
def test_yaml_line_break_characters_are_written_escaped(text: str) -> None:
    edited = edit(RICH, "Policy", "enough-disk", lambda old: {**old, "description": text})
    assert spec_of(edited, "Policy")["description"] == text
