"""Untrusted values to numbers, sizes, speeds and dates; running a bounded OS command."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.hardware.commands import run_command
from agent.hardware.values import count, floor_gib, frequency_mhz, records, size, when


@pytest.mark.parametrize(("value", "base", "expected"), [
    pytest.param("16 GB", 1024, 16 * 1024**3, id="memory-binary"),
    pytest.param("500.28 GB", 1000, 500_280_000_000, id="storage-decimal"),
    pytest.param("1,5 TB", 1000, 1_500_000_000_000, id="comma-decimal"),
    pytest.param("500,28 Go", 1000, 500_280_000_000, id="french-unit"),
    pytest.param("8192 MB", 1024, 8 * 1024**3, id="megabytes"),
    pytest.param(123456, 1000, 123456, id="plain-number"),
    pytest.param("empty", 1024, 0, id="empty-slot"),
    pytest.param("12 parsecs", 1000, 0, id="unknown-unit"),
    pytest.param("9" * 80 + " GB", 1000, 0, id="absurd"),
    pytest.param(None, 1000, 0, id="missing"),
    pytest.param(["16 GB"], 1000, 0, id="wrong-type"),
])
def test_sizes(value: object, base: int, expected: int) -> None:
    assert size(value, what="test", base=base) == expected


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("2.6 GHz", 2600.0, id="ghz"), pytest.param("3,1 GHz", 3100.0, id="comma"),
    pytest.param("2667 MHz", 2667.0, id="mhz"), pytest.param("3200 MT/s", 3200.0, id="mts"),
    pytest.param(2803, 2803.0, id="number"), pytest.param("1e9 GHz", 0.0, id="absurd"),
    pytest.param(-5, 0.0, id="negative"), pytest.param("fast", 0.0, id="words"),
    pytest.param(float("nan"), 0.0, id="nan"),
])
def test_frequencies(value: object, expected: float) -> None:
    assert frequency_mhz(value, what="test") == expected


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("/Date(1700000000000)/", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), id="ps51-string"),
    pytest.param({"value": "/Date(1700000000000)/", "DateTime": "Tuesday..."},
                 datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), id="ps51-object"),
    pytest.param("2023-11-14T23:13:20+01:00", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), id="iso"),
    pytest.param("20231114231320.000000+060", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), id="dmtf"),
    pytest.param(1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), id="unix"),
    pytest.param("/Date(-99999999999999)/", None, id="before-1980"),
    pytest.param(10**30, None, id="overflow"), pytest.param("yesterday", None, id="words"),
    pytest.param(True, None, id="bool"), pytest.param("", None, id="empty"),
])
def test_dates(value: object, expected: datetime | None) -> None:
    assert when(value, what="test") == expected


def test_counts_reject_garbage_instead_of_raising() -> None:
    assert count("12", what="t") == 12
    assert [count(v, what="t") for v in ("-1", 10**7, "x", None, True, [3], float("inf"))] == [0] * 7


def test_lone_powershell_objects_become_lists() -> None:
    assert records({"a": 1}) == [{"a": 1}]
    assert records([{"a": 1}, 2, "x", None]) == [{"a": 1}]
    assert records(None) == records("text") == []


def test_free_space_is_floored_to_whole_gib() -> None:
    assert floor_gib(5 * 1024**3 + 1023) == 5 * 1024**3
    assert floor_gib(1024**3 - 1) == 0


def tool(folder: Path, body: str) -> str:
    folder.mkdir(exist_ok=True)
    path = folder / "probe"
    path.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    path.chmod(0o755)
    return str(folder)


@pytest.mark.skipif(os.name != "posix", reason="the fake tool is a POSIX script")
def test_a_hanging_command_is_stopped_at_its_timeout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tool(tmp_path / "bin", "time.sleep(30)")
    started = time.monotonic()
    assert run_command(["probe"], what="test data", timeout=0.5, search_path=path) is None
    assert time.monotonic() - started < 10
    assert "probe did not finish within 0.5 s; no test data" in caplog.text


@pytest.mark.skipif(os.name != "posix", reason="the fake tool is a POSIX script")
def test_output_over_the_cap_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tool(tmp_path / "bin", "sys.stdout.write('x' * 2000)")
    assert run_command(["probe"], what="test data", max_bytes=1000, search_path=path) is None
    assert run_command(["probe"], what="test data", max_bytes=2000, search_path=path) == "x" * 2000
    assert "printed more than 1000 bytes; no test data" in caplog.text
