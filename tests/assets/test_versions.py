"""Version ordering for the software search: dpkg's algorithm, checked against dpkg itself."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from controller.store.versions import VersionRange, compare_versions, parse_version, version_key

PAIRS = [
    pytest.param("1.0", "1.0", 0, id="equal"),
    pytest.param("1.10", "1.9", 1, id="numeric-not-lexical"),
    pytest.param("1.01", "1.1", 0, id="leading-zeros"),
    pytest.param("2:1.0", "1:9.9", 1, id="epoch-wins"),
    pytest.param("1.0~rc1", "1.0", -1, id="tilde-before-release"),
    pytest.param("1.0", "1.0a", -1, id="letter-after-end"),
    pytest.param("1.0a", "1.0+b1", -1, id="letters-before-symbols"),
    pytest.param("3.0.11-1~deb12u2", "3.0.11-1", -1, id="debian-security-revision"),
    pytest.param("3.0.13-1~deb12u1", "3.0.11-1~deb12u2", 1, id="openssl-upgrade"),
    pytest.param("5.14.0-362.el9", "5.14.0-70.el9", 1, id="rpm-release"),
    pytest.param("10.0.19041.1", "10.0.9200.1", 1, id="windows-build"),
    pytest.param("121.0b3", "121.0", 1, id="app-bundle-beta-letter"),
    pytest.param("1:2.36-9+deb12u4", "1:2.36-9+deb12u10", -1, id="revision-numbers"),
]


@pytest.mark.parametrize(("left", "right", "expected"), PAIRS)
def test_versions_order_like_dpkg(left: str, right: str, expected: int) -> None:
    assert compare_versions(left, right) == expected
    assert compare_versions(right, left) == -expected


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed on this machine")
@pytest.mark.parametrize(("left", "right", "expected"), PAIRS)
def test_the_real_dpkg_agrees(left: str, right: str, expected: int) -> None:
    operator = {-1: "lt", 0: "eq", 1: "gt"}[expected]
    result = subprocess.run(["dpkg", "--compare-versions", left, operator, right], check=False)
    assert result.returncode == 0, f"dpkg does not say {left} {operator} {right}"


def test_tolerances_beyond_dpkg() -> None:
    assert compare_versions(" v1.2 ", "1.2") == 0
    assert parse_version("abc:1.0").epoch == 0  # a non-numeric "epoch" stays in the version


def test_sorting_and_ranges() -> None:
    assert sorted(["1.10", "1.9", "1.0~rc1", "1.0"], key=version_key) == ["1.0~rc1", "1.0", "1.9", "1.10"]
    wanted = VersionRange("3.0.11", "3.1")
    assert "3.0.11" in wanted and "3.0.13-1" in wanted and "3.1" in wanted
    assert "3.0.9" not in wanted and "3.1.1" not in wanted
    assert VersionRange().unbounded and not wanted.unbounded
