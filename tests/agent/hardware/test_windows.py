"""The Windows parser against recorded Get-CimInstance | ConvertTo-Json outputs, and the collector's plumbing."""

from __future__ import annotations

import copy
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.hardware.windows import ARGV, SCRIPT, collect_windows, parse_windows
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


def test_a_windows_11_laptop_from_windows_powershell() -> None:
    inventory = parse_windows(load("windows-11-laptop-ps51.json"))
    assert inventory.system == SystemInfo(
        manufacturer="LENOVO", model="20XW00ABUS", serial="PF2ABCDE", uuid="8a1c3e40-2b7d-11b2-a85c-d3a1f0c2b9e4",
        chassis="Notebook", sku="LENOVO_MT_20XW_BU_Think_FM_ThinkPad X1 Carbon Gen 9", bios_vendor="LENOVO",
        bios_version="N32ET91W (1.67 )", bios_date="2025-03-11")
    assert inventory.cpus == [CpuInfo(model="11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", vendor="Intel",
                                      sockets=1, cores=4, threads=8, frequency_mhz=2803)]
    assert inventory.memory.total_bytes == 16844148736
    assert inventory.memory.modules == [
        MemoryModule(slot=f"Channel{channel}-DIMM0", size_bytes=8 * GIB, speed_mts=4267, type="LPDDR4",
                     manufacturer="Samsung", serial="00000000", part_number="K4U6E3S4AA-MGCL")
        for channel in "AB"
    ]
    assert inventory.disks == [Disk(name="\\\\.\\PHYSICALDRIVE0", model="SAMSUNG MZVL2512HCJQ-00BL7",
                                    serial="0025_3881_1B40_1A2B.", size_bytes=512105932800, type="nvme", bus="NVMe")]
    assert inventory.volumes == [
        Volume(mount="C:\\", device="Windows", filesystem="NTFS", size_bytes=510916423680, free_bytes=215 * GIB),
        Volume(mount="E:\\", device="KINGSTON", filesystem="FAT32", size_bytes=31006834688, free_bytes=28 * GIB),
    ]
    assert inventory.interfaces == [
        NetworkInterface(name="Ethernet", mac="98:fa:9b:65:43:21", speed_mbps=0, up=False),
        NetworkInterface(name="Wi-Fi", mac="8c:c6:81:12:34:56", ipv4=["192.168.1.23"],
                         ipv6=["2001:db8:1:0:1c2d:3e4f:5a6b:7c8d", "fe80::1c2d:3e4f:5a6b:7c8d"],
                         speed_mbps=866, up=True),
    ]
    assert inventory.displays == [
        Display(name="DISPLAY\\DELA0F1\\5&2c3d4e5f&0&UID4352_0", manufacturer="DEL", model="DELL U2720Q",
                serial="123ABC456"),
        Display(name="DISPLAY\\LEN40A9\\4&1b2c3d4e&0&UID8388688_0", manufacturer="LEN"),  # serial "0": none
    ]
    assert inventory.peripherals == [
        Peripheral(bus="usb", vendor_id="046d", product_id="c52b", vendor="(Standard USB Host Controller)",
                   product="USB Composite Device"),
        Peripheral(bus="usb", vendor_id="0951", product_id="1666", vendor="Compatible USB storage device",
                   product="USB Mass Storage Device", serial="E0D55EA573DCF450A9D40F1B"),
    ]
    assert inventory.os == OsInfo(name="Microsoft Windows 11 Pro", version="10.0.22631", build="22631",
                                  kernel="10.0.22631", arch="64-bit",
                                  install_date=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
                                  last_boot=datetime(2025, 11, 27, 0, 0, 0, 500000, tzinfo=UTC))
    assert inventory.users == [UserSession(name="CONTOSO\\jdoe", terminal="console")]


def test_a_server_vm_from_powershell_7_with_lone_objects_and_string_sizes() -> None:
    inventory = parse_windows(load("windows-server-vm-ps7.json"))
    assert inventory.system.manufacturer == "Microsoft Corporation"
    assert inventory.system.chassis == "Desktop"
    assert inventory.system.sku == ""  # "None" is a firmware placeholder
    assert inventory.system.bios_date == "2023-05-11"
    assert inventory.cpus == [CpuInfo(model="Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", vendor="Intel", sockets=2,
                                      cores=4, threads=8, frequency_mhz=2095)]
    assert inventory.memory.total_bytes == 8589463552
    assert inventory.memory.modules == [MemoryModule(slot="M0001", size_bytes=8 * GIB,
                                                     manufacturer="Microsoft Corporation")]
    assert [(disk.name[-1], disk.size_bytes, disk.type, disk.bus) for disk in inventory.disks] == [
        ("0", 136366917120, "unknown", "SAS"), ("1", 1073741824, "virtual", "File Backed Virtual")]
    assert inventory.volumes == [Volume(mount="C:\\", filesystem="NTFS", size_bytes=135838822400,
                                        free_bytes=92 * GIB)]
    assert inventory.interfaces == [NetworkInterface(name="Ethernet", mac="00:15:5d:01:02:03", ipv4=["10.0.0.4"],
                                                     ipv6=["fe80::8d1:2e3f:4a5b:6c7d"], speed_mbps=10000, up=True)]
    assert inventory.displays == [Display(name="Default Monitor", model="Default Monitor", width=1024, height=768)]
    assert inventory.peripherals == []
    assert inventory.os.install_date == datetime(2024, 2, 1, 8, 30, tzinfo=UTC)
    assert inventory.os.last_boot == datetime(2025, 11, 26, 7, 15, 0, 500000, tzinfo=UTC)
    assert inventory.users == []


def test_free_space_moving_within_a_gib_does_not_change_the_section() -> None:
    data = load("windows-11-laptop-ps51.json")
    before = parse_windows(data).model_dump_json()
    data["LogicalDisk"][0]["FreeSpace"] += 4096 * 1000
    assert parse_windows(data).model_dump_json() == before


def test_the_order_of_cim_instances_does_not_change_the_section() -> None:
    data = load("windows-11-laptop-ps51.json")
    shuffled = copy.deepcopy(data)
    for key in ("PhysicalMemory", "LogicalDisk", "NetworkAdapter", "MonitorID", "PnPEntity"):
        shuffled[key].reverse()
    assert parse_windows(shuffled).model_dump_json() == parse_windows(data).model_dump_json()


@pytest.mark.parametrize(("key", "garbage"), [
    pytest.param("Processor", {"Name": ["not", "a", "string"], "NumberOfCores": "many", "MaxClockSpeed": -1},
                 id="processor-wrong-types"),
    pytest.param("PhysicalMemory", [{"Capacity": 1e300, "Speed": "fast"}, 42, "text"], id="memory-absurd"),
    pytest.param("LogicalDisk", {"DeviceID": 7, "Size": -100, "FreeSpace": {"a": 1}, "DriveType": 3},
                 id="disk-wrong-types"),
    pytest.param("NetworkAdapter", [{"Index": 1, "MACAddress": "not-a-mac", "Speed": "NaN"}], id="adapter-garbage"),
    pytest.param("OperatingSystem", {"InstallDate": "/Date(99999999999999999)/", "LastBootUpTime": [1, 2]},
                 id="dates-absurd"),
    pytest.param("ComputerSystem", "just a string", id="object-is-a-string"),
    pytest.param("MonitorID", {"ManufacturerName": [65536, -1, "x", 0xD800], "UserFriendlyName": 12},
                 id="monitor-code-units-garbage"),
])
def test_wrong_types_and_absurd_values_give_a_partial_inventory(key: str, garbage: object) -> None:
    data = load("windows-11-laptop-ps51.json")
    data[key] = garbage
    inventory = parse_windows(data)
    intact = parse_windows(load("windows-11-laptop-ps51.json"))
    # Everything that did not come from the garbled class is unchanged.
    for field in ("disks", "peripherals"):
        assert getattr(inventory, field) == getattr(intact, field)
    if key != "ComputerSystem":
        assert inventory.system == intact.system


def test_not_an_object_gives_an_empty_section(caplog: pytest.LogCaptureFixture) -> None:
    assert parse_windows([1, 2]).model_dump() == parse_windows({}).model_dump()
    assert "not a JSON object" in caplog.text


def test_the_script_is_one_powershell_command_printing_compressed_json() -> None:
    assert ARGV[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-Command")
    assert '"' not in SCRIPT
    assert SCRIPT.strip().endswith("ConvertTo-Json -Depth 4 -Compress")
    for cim_class in ("Win32_ComputerSystem", "Win32_BIOS", "Win32_SystemEnclosure", "Win32_Processor",
                      "Win32_PhysicalMemory", "Win32_DiskDrive", "Win32_LogicalDisk", "Win32_NetworkAdapter",
                      "Win32_NetworkAdapterConfiguration", "WmiMonitorID", "Win32_PnPEntity", "Win32_OperatingSystem"):
        assert f"Cim {cim_class} " in SCRIPT
    # Every key the parser reads is one the script emits.
    for key in load("windows-11-laptop-ps51.json"):
        assert f"\n  {key} = Cim " in SCRIPT


def fake_powershell(folder: Path, body: str) -> str:
    """A ``powershell`` executable on a private PATH that prints what the real one would."""
    folder.mkdir(exist_ok=True)
    script = folder / "powershell"
    script.write_text(f"#!{sys.executable}\n{body}\n")
    script.chmod(0o755)
    return str(folder)


@pytest.mark.skipif(os.name != "posix", reason="the fake powershell is a POSIX script")
def test_the_collector_runs_powershell_once_and_parses_its_output(tmp_path: Path) -> None:
    recorded = (FIXTURES / "windows-11-laptop-ps51.json").read_text()
    calls = tmp_path / "calls"
    path = fake_powershell(tmp_path / "bin", f"""
import sys
with open({str(calls)!r}, "a") as log:
    log.write(repr(sys.argv[1:5]) + "\\n")
sys.stdout.write("\\ufeff" + {recorded!r})
""")
    inventory = collect_windows(search_path=path)
    assert calls.read_text().count("\n") == 1
    assert inventory.system.model == "20XW00ABUS"
    assert inventory.disks[0].type == "nvme"


@pytest.mark.skipif(os.name != "posix", reason="the fake powershell is a POSIX script")
@pytest.mark.parametrize(("body", "message"), [
    pytest.param("import sys; sys.stderr.write('Get-CimInstance: access denied'); sys.exit(1)",
                 "exited with 1 (Get-CimInstance: access denied)", id="fails"),
    pytest.param("print('{not json')", "invalid JSON", id="garbage"),
])
def test_a_failing_or_garbled_powershell_gives_an_empty_section(tmp_path: Path, body: str, message: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    inventory = collect_windows(search_path=fake_powershell(tmp_path / "bin", body))
    assert inventory.system == SystemInfo()
    assert inventory.disks == []
    assert message in caplog.text


def test_without_powershell_the_section_is_empty(tmp_path: Path) -> None:
    assert collect_windows(search_path=str(tmp_path)).cpus == []
