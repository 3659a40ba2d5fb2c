"""Ticket text from rule templates: sandboxed, strict, capped, cleaned, and falling back with the error."""

from __future__ import annotations

from typing import Any

import pytest

from controller.tickets.rendering import (
    BODY_MAX_CHARS,
    TITLE_MAX_CHARS,
    render_body,
    render_dedup_key,
    render_title,
)

CONTEXT: dict[str, Any] = {
    "alert": {"type": "disk_free", "severity": "critical", "key": "pc-1/disk_free/C", "message": "C: 3% free",
              "detail": {"drive": "C:", "percent": 3}, "raised_at": "2025-01-01T10:00:00+00:00",
              "client": "acme"},
    "device": {"id": "agent-1", "hostname": "pc-1", "client": "acme", "groups": ["linux-boxes"],
               "labels": {"site": "hq"}},
    "client": {"name": "acme"},
}


def test_title_renders_alert_and_device_values() -> None:
    rendered = render_title("{{ alert.severity | upper }}: {{ alert.detail.drive }} on {{ device.hostname }}",
                            CONTEXT)
    assert rendered.text == "CRITICAL: C: on pc-1"
    assert rendered.error is None


@pytest.mark.parametrize("template", [
    pytest.param("{{ alert.detail.missing }}", id="missing-detail-key"),
    pytest.param("{{ nobody }}", id="undefined-variable"),
    pytest.param("{{ alert.type.__class__.__mro__ }}", id="sandbox-escape"),
    pytest.param("{{ 'x' * 100000000 }}", id="huge-repeat"),
    pytest.param("{% for i in range(100000000) %}x{% endfor %}", id="huge-range"),
    pytest.param("{{ 1 / 0 }}", id="division-by-zero"),
    pytest.param("   ", id="renders-empty"),
])
def test_a_failing_title_falls_back_to_plain_text_and_says_why(template: str) -> None:
    rendered = render_title(template, CONTEXT)
    assert rendered.text == "critical disk_free on pc-1"
    assert rendered.error is not None and rendered.error.startswith("title: ")


def test_missing_key_error_names_the_key() -> None:
    rendered = render_title("{{ alert.detail.missing }}", CONTEXT)
    assert rendered.error is not None and "missing" in rendered.error


def test_title_is_one_line_without_control_characters_and_capped() -> None:
    rendered = render_title("a\x00b\x1b[31m\nc\td " + "y" * 1000, CONTEXT)
    assert rendered.text.startswith("a b [31m c d yyy")
    assert len(rendered.text) == TITLE_MAX_CHARS
    assert not any(ord(char) < 32 for char in rendered.text)


def test_body_keeps_lines_and_tabs_but_drops_other_control_characters() -> None:
    rendered = render_body("line one\r\n\tindented\x07\x1b\nend", CONTEXT)
    assert rendered.text == "line one\n\tindented\nend"


def test_body_output_is_capped_while_rendering() -> None:
    rendered = render_body("{% for i in range(1000) %}{{ 'z' * 99 }}{% endfor %}", CONTEXT)
    assert len(rendered.text) == BODY_MAX_CHARS
    assert rendered.error is None


def test_a_failing_body_keeps_the_alert_message_and_the_error() -> None:
    rendered = render_body("{{ alert.detail.nope }}", CONTEXT)
    assert rendered.text.startswith("C: 3% free")
    assert "nope" in rendered.text
    assert rendered.error is not None and rendered.error.startswith("body: ")


def test_dedup_key_falls_back_to_device_and_type() -> None:
    assert render_dedup_key("{{ device.labels.site }}", CONTEXT).text == "hq"
    broken = render_dedup_key("{{ device.labels.rack }}", CONTEXT)
    assert broken.text == "agent-1/disk_free"
    assert broken.error is not None and broken.error.startswith("dedupKey: ")
    empty = render_dedup_key("{{ '' }}", CONTEXT)
    assert empty.text == "agent-1/disk_free" and empty.error is not None
