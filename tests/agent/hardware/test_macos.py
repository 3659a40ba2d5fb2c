"""The macOS parser against recorded system_profiler -json outputs, and the collector's plumbing."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from agent.hardware.macos import ARGV, collect_macos, parse_macos
from schemas.inventory import (
    CpuInfo,
    Disk,
    Display,
    MemoryModule,
    NetworkInterface,
    OsInfo,
    Peripheral,
    SystemInfo,
    UserSession,
    Volume,
)

FIXTURES = Path(__file__).parent / "fixtures"
GIB = 1024**3


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_an_apple_silicon_macbook_on_macos_14() -> None:
    inventory = parse_macos(load("macos-14-apple-silicon.json"))
    assert inventory.system == SystemInfo(
        manufacturer="Apple Inc.", model="Mac14,2", serial="C02XYZ12AB", uuid="12345678-abcd-5ef0-9123-4567890abcde",
        chassis="Notebook", sku="Z15S0030VFN/A", bios_vendor="Apple Inc.", bios_version="10151.101.3")
    assert inventory.cpus == [CpuInfo(model="Apple M2", vendor="Apple", sockets=1, cores=8, threads=8)]
    assert inventory.memory.total_bytes == 24 * GIB
    assert inventory.memory.modules == [MemoryModule(size_bytes=24 * GIB, type="LPDDR5", manufacturer="Hynix")]
    assert inventory.disks == [Disk(name="disk0", model="APPLE SSD AP0512Z", serial="0ba01234a5b6c7d8",
                                    size_bytes=500277792768, type="nvme", bus="NVMe")]
    assert inventory.volumes == [
        Volume(mount="/", device="disk3s1s1", filesystem="APFS", size_bytes=494384795648, free_bytes=262 * GIB),
        Volume(mount="/System/Volumes/Data", device="disk3s5", filesystem="APFS", size_bytes=494384795648,
               free_bytes=262 * GIB),
    ]
    assert inventory.interfaces == [
        NetworkInterface(name="bridge0", mac="36:8a:1b:2c:3d:40"),
        NetworkInterface(name="en0", mac="a4:83:e7:12:34:56", ipv4=["192.168.1.42"],
                         ipv6=["2001:db8:0:1:1c8a:2f3b:4d5e:6f70", "fe80::1c8a:2f3b:4d5e:6f70"], up=True),
    ]
    assert inventory.displays == [
        Display(name="Color LCD", manufacturer="Apple", model="a050", serial="fd626d62", width=2560, height=1664),
        Display(name="DELL U2720Q", manufacturer="10ac", model="a0f1", serial="4c413132", width=3840, height=2160),
    ]
    assert inventory.peripherals == [
        Peripheral(bus="usb", vendor_id="046d", product_id="c52b", vendor="Logitech", product="USB Receiver"),
        Peripheral(bus="usb", vendor_id="05e3", product_id="0610", vendor="GenesysLogic", product="USB2.0 Hub"),
        Peripheral(bus="usb", vendor_id="0951", product_id="1666", vendor="Kingston", product="DataTraveler 3.0",
                   serial="E0D55EA573DCF450A9D40F1B"),
    ]
    assert inventory.os == OsInfo(name="macOS", version="14.4.1", build="23E224", kernel="Darwin 23.4.0",
                                  arch="arm64")
    assert inventory.users == [UserSession(name="jdoe", terminal="console")]


def test_an_intel_imac_on_macos_26_in_french() -> None:
    inventory = parse_macos(load("macos-26-intel-imac.json"))
    assert inventory.system.model == "iMac20,1"
    assert inventory.system.chassis == "All in One"
    assert inventory.system.serial == ""  # not in the output: stays empty
    assert inventory.cpus == [CpuInfo(model="Intel Core i7 8 cœurs", vendor="Intel", sockets=1, cores=8, threads=16,
                                      frequency_mhz=3800)]
    assert inventory.memory.total_bytes == 32 * GIB
    assert [(m.slot, m.size_bytes, m.speed_mts, m.type) for m in inventory.memory.modules] == [
        ("BANK 0/ChannelA-DIMM0", 16 * GIB, 2667, "DDR4"), ("BANK 1/ChannelB-DIMM0", 16 * GIB, 2667, "DDR4")]
    assert inventory.disks == [
        Disk(name="WD Elements 25A3", model="WD Elements 25A3", type="removable", bus="USB"),
        Disk(name="disk0", model="APPLE SSD AP0512N", size_bytes=500277790720, type="nvme", bus="NVMe"),
    ]
    assert [volume.mount for volume in inventory.volumes] == ["/System/Volumes/Data", "/Volumes/Sauvegardes"]
    assert inventory.volumes[1].free_bytes == 1117 * GIB
    assert inventory.interfaces == [NetworkInterface(name="en0", mac="38:f9:d3:aa:bb:cc", ipv4=["10.1.2.30"],
                                                     up=True)]
    assert inventory.displays == [Display(name="iMac", manufacturer="Apple", model="ae2f", width=5120, height=2880)]
    assert inventory.peripherals == [
        Peripheral(bus="usb", vendor_id="05ac", product_id="026c", vendor="Apple Inc.", product="Magic Keyboard"),
        Peripheral(bus="usb", vendor_id="1058", product_id="25a3", vendor="Western Digital", product="Elements 25A3",
                   serial="575833314133334C39"),
    ]
    assert inventory.os == OsInfo(name="macOS", version="26.0.1", build="25A362", kernel="Darwin 25.0.0",
                                  arch="x86_64")
    assert inventory.users == []


def test_a_human_size_is_used_when_bytes_are_missing() -> None:
    data = load("macos-26-intel-imac.json")
    data["SPNVMeDataType"][0]["_items"][0]["size_in_bytes"] = "not a number"
    [nvme] = [disk for disk in parse_macos(data).disks if disk.name == "disk0"]
    assert nvme.size_bytes == 500_280_000_000


def test_the_order_of_items_does_not_change_the_section() -> None:
    data = load("macos-14-apple-silicon.json")
    shuffled = copy.deepcopy(data)
    for key in ("SPNetworkDataType", "SPStorageDataType"):
        shuffled[key].reverse()
    shuffled["SPUSBDataType"][0]["_items"].reverse()
    shuffled["SPDisplaysDataType"][0]["spdisplays_ndrvs"].reverse()
    assert parse_macos(shuffled).model_dump_json() == parse_macos(data).model_dump_json()


@pytest.mark.parametrize(("key", "garbage"), [
    pytest.param("SPHardwareDataType", [{"number_processors": "proc many", "physical_memory": "lots of GB",
                                         "chip_type": 42, "current_processor_speed": "9e99 GHz"}],
                 id="hardware-wrong-types"),
    pytest.param("SPMemoryDataType", [{"_items": [{"dimm_size": 16, "dimm_speed": ["x"]}, "text", None]}],
                 id="memory-garbage"),
    pytest.param("SPStorageDataType", {"mount_point": "/", "size_in_bytes": -1, "free_space_in_bytes": 2**80,
                                       "physical_drive": "not an object"}, id="storage-absurd"),
    pytest.param("SPNetworkDataType", [{"interface": "en0", "IPv4": {"Addresses": "10.0.0.1"}, "Ethernet": 5}],
                 id="network-wrong-shapes"),
    pytest.param("SPDisplaysDataType", [{"spdisplays_ndrvs": [{"_spdisplays_pixels": "99999999 x 5"}]}],
                 id="display-absurd"),
    pytest.param("SPSoftwareDataType", "macOS", id="software-is-a-string"),
])
def test_wrong_types_and_absurd_values_give_a_partial_inventory(key: str, garbage: object) -> None:
    data = load("macos-14-apple-silicon.json")
    data[key] = garbage
    inventory = parse_macos(data)
    intact = parse_macos(load("macos-14-apple-silicon.json"))
    for field in ("disks", "peripherals"):
        assert getattr(inventory, field) == getattr(intact, field)


def test_deeply_nested_usb_hubs_are_bounded() -> None:
    node: dict[str, Any] = {"_name": "leaf", "vendor_id": "0x1234", "product_id": "0x5678"}
    for _ in range(200):
        node = {"_name": "hub", "vendor_id": "0x05e3", "product_id": "0x0610", "_items": [node]}
    peripherals = parse_macos({"SPUSBDataType": [{"_items": [node]}]}).peripherals
    assert 0 < len(peripherals) < 20


def test_the_command_asks_for_every_data_type_in_one_run() -> None:
    assert ARGV[:4] == ("system_profiler", "-json", "-detailLevel", "basic")  # mini omits serial numbers
    for data_type in ("SPHardwareDataType", "SPMemoryDataType", "SPStorageDataType", "SPNVMeDataType",
                      "SPUSBDataType", "SPDisplaysDataType", "SPNetworkDataType", "SPSoftwareDataType"):
        assert data_type in ARGV


@pytest.mark.skipif(os.name != "posix", reason="the fake system_profiler is a POSIX script")
def test_the_collector_adds_boot_time_install_date_and_sessions(tmp_path: Path) -> None:
    recorded = (FIXTURES / "macos-14-apple-silicon.json").read_text()
    folder = tmp_path / "bin"
    folder.mkdir()
    tool = folder / "system_profiler"
    tool.write_text(f"#!{sys.executable}\nimport sys\nassert sys.argv[1:4] == ['-json', '-detailLevel', 'basic']\n"
                    f"sys.stdout.write({recorded!r})\n")
    tool.chmod(0o755)
    marker = tmp_path / ".AppleSetupDone"
    marker.touch()
    os.utime(marker, (1_650_000_000, 1_650_000_000))
    inventory = collect_macos(search_path=str(folder), setup_marker=marker)
    assert inventory.system.model == "Mac14,2"
    assert inventory.os.install_date is not None and inventory.os.install_date.timestamp() == 1_650_000_000
    assert inventory.os.last_boot is not None
    assert inventory.os.last_boot.timestamp() == pytest.approx(psutil.boot_time(), abs=1)


def test_without_system_profiler_the_section_is_empty(tmp_path: Path) -> None:
    assert collect_macos(search_path=str(tmp_path)).cpus == []
