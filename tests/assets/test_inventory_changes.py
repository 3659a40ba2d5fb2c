"""What goes into asset_history when a device's inventory changes."""

from __future__ import annotations

from typing import Any

import pytest

from controller.store.inventory_changes import (
    MAX_CHANGES_PER_REPORT,
    InventoryChange,
    hardware_changes,
    software_changes,
)

BASE = [("dpkg", "openssl", "amd64", "3.0.11-1"), ("dpkg", "curl", "amd64", "7.88.1-10"),
        ("dpkg", "linux-image", "amd64", "6.1.0-1")]


def _changes(new: list[tuple[str, str, str, str]]) -> set[tuple[str, str, str | None, str | None]]:
    return {(change.change, change.item, change.old, change.new) for change in software_changes(BASE, new)}


def test_first_report_is_a_baseline_not_a_change() -> None:
    assert software_changes(None, BASE) == []
    assert hardware_changes(None, {"system": {"serial": "X"}}) == []


@pytest.mark.parametrize(("new", "expected"), [
    pytest.param(BASE, set(), id="nothing"),
    pytest.param([BASE[0], BASE[2]], {("removed", "curl (amd64, dpkg)", "7.88.1-10", None)}, id="removed"),
    pytest.param([*BASE, ("dpkg", "git", "amd64", "2.39")], {("added", "git (amd64, dpkg)", None, "2.39")},
                 id="installed"),
    pytest.param([("dpkg", "openssl", "amd64", "3.0.13-1"), *BASE[1:]],
                 {("upgraded", "openssl (amd64, dpkg)", "3.0.11-1", "3.0.13-1")}, id="upgraded"),
    pytest.param([("dpkg", "openssl", "amd64", "3.0.9"), *BASE[1:]],
                 {("downgraded", "openssl (amd64, dpkg)", "3.0.11-1", "3.0.9")}, id="downgraded"),
    pytest.param([*BASE, ("dpkg", "linux-image", "amd64", "6.1.0-2")],
                 {("added", "linux-image (amd64, dpkg)", None, "6.1.0-2")}, id="second-version-side-by-side"),
])
def test_software_changes(new: list[tuple[str, str, str, str]],
                          expected: set[tuple[str, str, str | None, str | None]]) -> None:
    assert _changes(new) == expected


GiB = 1 << 30


def _hardware(**parts: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "system": {"manufacturer": "Dell Inc.", "model": "Latitude 7440", "serial": "ABC1234"},
        "cpus": [{"model": "Intel i7", "cores": 10}],
        "memory": {"total_bytes": 16 * GiB, "modules": [{"slot": "DIMM A", "size_bytes": 8 * GiB},
                                                         {"slot": "DIMM B", "size_bytes": 8 * GiB}]},
        "disks": [{"name": "nvme0n1", "serial": "S1", "model": "Samsung 980", "size_bytes": 512 * GiB}],
        "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:00:11:22"}],
        "volumes": [{"mount": "/", "free_bytes": 100 * GiB}],
        "users": [{"name": "alice"}],
        "os": {"name": "Debian", "version": "12"},
    }
    base.update(parts)
    return base


def _hw(new: dict[str, Any]) -> set[tuple[str, str, str | None, str | None]]:
    return {(change.change, change.item, change.old, change.new) for change in hardware_changes(_hardware(), new)}


def test_volatile_values_are_not_history() -> None:
    assert _hw(_hardware(volumes=[{"mount": "/", "free_bytes": 3 * GiB}], users=[])) == set()


def test_ram_removed_shows_the_module_and_the_total() -> None:
    memory = {"total_bytes": 8 * GiB, "modules": [{"slot": "DIMM A", "size_bytes": 8 * GiB}]}
    assert _hw(_hardware(memory=memory)) == {
        ("changed", "memory total bytes", "16 GiB", "8 GiB"),
        ("removed", "memory module", "8 GiB", None),
    }


def test_disk_replaced_is_one_removed_and_one_added() -> None:
    disks = [{"name": "nvme0n1", "serial": "S2", "model": "WD SN850", "size_bytes": 1024 * GiB}]
    assert _hw(_hardware(disks=disks)) == {
        ("removed", "disk", "Samsung 980 512 GiB nvme0n1", None),
        ("added", "disk", None, "WD SN850 1 TiB nvme0n1"),
    }


def test_serial_change_is_recorded() -> None:
    system = {"manufacturer": "Dell Inc.", "model": "Latitude 7440", "serial": "ZZZ9999"}
    assert _hw(_hardware(system=system)) == {("changed", "system serial", "ABC1234", "ZZZ9999")}


def test_garbage_parts_do_not_break_the_diff() -> None:
    assert hardware_changes(_hardware(disks=["not a disk", 42]), _hardware(disks=None)) == []


def test_a_reimage_is_capped_with_a_summary() -> None:
    old = [("dpkg", f"pkg{index}", "amd64", "1") for index in range(MAX_CHANGES_PER_REPORT + 10)]
    changes = software_changes(old, [])
    assert len(changes) == MAX_CHANGES_PER_REPORT
    assert changes[-1] == InventoryChange("software", "changed", "11 more changes", None, "11 not listed")
