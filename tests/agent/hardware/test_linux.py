"""The Linux collector against fake sysfs trees (every path under ``root``) and against this machine."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agent.hardware import collect_hardware
from agent.hardware.edid import parse_edid
from agent.hardware.linux import collect_linux, install_date, parse_cpuinfo
from agent.hardware.smbios import parse_memory_device
from agent.hardware.sysfs import displays, system_info
from schemas.inventory import Disk, Display, HardwareInventory, MemoryModule, Peripheral, SystemInfo

REPO = Path(__file__).resolve().parents[3]

CPUINFO_TWO_SOCKETS = "".join(
    f"processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\n"
    f"cpu MHz\t\t: {1000 + n}.123\nphysical id\t: {n // 4}\nsiblings\t: 4\ncore id\t\t: {n % 2}\n"
    f"cpu cores\t: 2\n\n"
    for n in range(8)
)
CPUINFO_ARM = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 108.00\n\n"


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def edid(manufacturer: str, name: str, serial: str, width: int, height: int) -> bytes:
    """A 128-byte EDID 1.4 base block as a monitor sends it."""
    code = 0
    for letter in manufacturer:
        code = (code << 5) | (ord(letter) - ord("A") + 1)
    block = bytearray(128)
    block[0:8] = bytes([0, 255, 255, 255, 255, 255, 255, 0])
    block[8:10] = code.to_bytes(2, "big")
    block[10:12] = (0xA0F1).to_bytes(2, "little")
    block[12:16] = (1234567).to_bytes(4, "little")
    block[18:20] = bytes([1, 4])
    timing = bytearray(18)
    timing[0:2] = (59400).to_bytes(2, "little")  # pixel clock, non-zero: a detailed timing
    timing[2], timing[4] = width & 0xFF, (width >> 8) << 4
    timing[5], timing[7] = height & 0xFF, (height >> 8) << 4
    block[54:72] = timing
    for offset, tag, value in ((72, 0xFC, name), (90, 0xFF, serial)):
        block[offset:offset + 5] = bytes([0, 0, 0, tag, 0])
        block[offset + 5:offset + 18] = (value.encode() + b"\n").ljust(13, b" ")
    block[127] = (-sum(block[:127])) % 256
    return bytes(block)


def memory_device(locator: str, size_word: int, speed: int, kind: int, extended_mib: int = 0) -> bytes:
    """A raw SMBIOS type-17 structure (84 bytes formatted area, then its strings)."""
    raw = bytearray(0x28)
    raw[0], raw[1] = 17, 0x28
    raw[0x0C:0x0E] = size_word.to_bytes(2, "little")
    raw[0x10], raw[0x12] = 1, kind
    raw[0x15:0x17] = speed.to_bytes(2, "little")
    raw[0x17], raw[0x18], raw[0x1A] = 2, 3, 4
    raw[0x1C:0x20] = extended_mib.to_bytes(4, "little")
    strings = [locator, "Samsung", "4A1B2C3D", "M471A2K43DB1-CWE"]
    return bytes(raw) + b"\x00".join(s.encode() for s in strings) + b"\x00\x00"


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    """A fake root with the sysfs/procfs files of a two-socket laptop-ish machine."""
    root = tmp_path / "root"
    dmi = "sys/class/dmi/id"
    for name, value in {"sys_vendor": "LENOVO", "product_name": "20XW00ABUS", "product_serial": "PF2ABCDE",
                        "product_uuid": "4C4C4544-0042-3510-8052-B4C04F4B4E32", "chassis_type": "10",
                        "product_sku": "LENOVO_MT_20XW", "bios_vendor": "LENOVO", "bios_version": "N32ET91W (1.67 )",
                        "bios_date": "03/11/2025"}.items():
        write(root, f"{dmi}/{name}", value + "\n")
    write(root, "proc/cpuinfo", CPUINFO_TWO_SOCKETS)
    write(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3900000\n")
    write(root, "sys/block/nvme0n1/size", "1000215216\n")
    write(root, "sys/block/nvme0n1/device/model", "SAMSUNG MZVL21T0HCLR-00BL2              \n")
    write(root, "sys/block/nvme0n1/device/serial", "S64PNX0T123456      \n")
    write(root, "sys/block/nvme0n1/queue/rotational", "0\n")
    write(root, "sys/block/sda/size", "3907029168\n")
    write(root, "sys/block/sda/device/model", "ST2000DM008-2FR1\n")
    write(root, "sys/block/sda/device/wwid", "t10.ATA     ST2000DM008-2FR102                      ZFL1ABCD\n")
    write(root, "sys/block/sda/queue/rotational", "1\n")
    write(root, "sys/block/sda/removable", "0\n")
    write(root, "sys/block/sdb/size", "61440000\n")
    write(root, "sys/block/sdb/removable", "1\n")
    write(root, "sys/block/sdb/device/model", "Cruzer Blade\n")
    for virtual in ("loop0", "loop7", "ram0", "zram0", "dm-0", "md127"):
        write(root, f"sys/block/{virtual}/size", "1024\n")
    write(root, "sys/bus/usb/devices/1-2/idVendor", "046d\n")
    write(root, "sys/bus/usb/devices/1-2/idProduct", "C52B\n")
    write(root, "sys/bus/usb/devices/1-2/manufacturer", "Logitech\n")
    write(root, "sys/bus/usb/devices/1-2/product", "USB Receiver\n")
    write(root, "sys/bus/usb/devices/1-2:1.0/bInterfaceClass", "03\n")
    write(root, "sys/bus/usb/devices/usb1/idVendor", "1d6b\n")
    write(root, "sys/bus/usb/devices/usb1/idProduct", "0002\n")
    write(root, "sys/bus/usb/devices/usb1/serial", "0000:00:14.0\n")
    write(root, "sys/class/drm/card0-eDP-1/status", "connected\n")
    write(root, "sys/class/drm/card0-eDP-1/edid", edid("LEN", "LEN P27h-20", "V90ABCDE", 2560, 1440))
    write(root, "sys/class/drm/card0-HDMI-A-1/status", "disconnected\n")
    write(root, "sys/class/drm/card0-HDMI-A-1/edid", b"")
    write(root, "sys/firmware/dmi/entries/17-0/raw", memory_device("DIMM A", 16384, 3200, 0x1A))
    write(root, "sys/firmware/dmi/entries/17-1/raw", memory_device("DIMM B", 0, 0, 0x02))
    write(root, "sys/firmware/dmi/entries/17-2/raw", memory_device("DIMM C", 0x7FFF, 4800, 0x22, 65536))
    write(root, "etc/os-release", 'NAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04.1 LTS (Noble Numbat)"\n')
    write(root, "proc/sys/kernel/osrelease", "6.8.0-45-generic\n")
    write(root, "var/log/installer/syslog", "installed\n")
    os.utime(root / "var/log/installer", (1_700_000_000, 1_700_000_000))
    return root


def test_a_fake_machine_is_read_from_its_tree(machine: Path) -> None:
    inventory = collect_linux(machine)
    assert inventory.system == SystemInfo(
        manufacturer="LENOVO", model="20XW00ABUS", serial="PF2ABCDE", uuid="4c4c4544-0042-3510-8052-b4c04f4b4e32",
        chassis="Notebook", sku="LENOVO_MT_20XW", bios_vendor="LENOVO", bios_version="N32ET91W (1.67 )",
        bios_date="03/11/2025")
    [cpu] = inventory.cpus
    assert (cpu.vendor, cpu.sockets, cpu.cores, cpu.threads, cpu.frequency_mhz) == ("Intel", 2, 4, 8, 3900.0)
    assert inventory.disks == [
        Disk(name="nvme0n1", model="SAMSUNG MZVL21T0HCLR-00BL2", serial="S64PNX0T123456",
             size_bytes=1000215216 * 512, type="nvme"),
        Disk(name="sda", model="ST2000DM008-2FR1",
             serial="t10.ATA     ST2000DM008-2FR102                      ZFL1ABCD", size_bytes=3907029168 * 512,
             type="hdd"),
        Disk(name="sdb", model="Cruzer Blade", size_bytes=61440000 * 512, type="removable"),
    ]
    assert inventory.peripherals == [
        Peripheral(bus="usb", vendor_id="046d", product_id="c52b", vendor="Logitech", product="USB Receiver"),
        Peripheral(bus="usb", vendor_id="1d6b", product_id="0002", serial="0000:00:14.0"),
    ]
    assert inventory.displays == [Display(name="card0-eDP-1", manufacturer="LEN", model="LEN P27h-20",
                                          serial="V90ABCDE", width=2560, height=1440)]
    assert inventory.memory.modules == [
        MemoryModule(slot="DIMM A", size_bytes=16 * 1024**3, speed_mts=3200, type="DDR4", manufacturer="Samsung",
                     serial="4A1B2C3D", part_number="M471A2K43DB1-CWE"),
        MemoryModule(slot="DIMM C", size_bytes=64 * 1024**3, speed_mts=4800, type="DDR5", manufacturer="Samsung",
                     serial="4A1B2C3D", part_number="M471A2K43DB1-CWE"),
    ]
    assert inventory.os.name == "Ubuntu"
    assert inventory.os.version == "24.04"
    assert inventory.os.kernel == "6.8.0-45-generic"
    assert inventory.os.install_date is not None and inventory.os.install_date.timestamp() == 1_700_000_000


def test_cpuinfo_without_sockets_or_cores_counts_threads() -> None:
    [cpu] = parse_cpuinfo(CPUINFO_ARM)
    assert (cpu.model, cpu.sockets, cpu.cores, cpu.threads) == ("", 1, 2, 2)


def test_cpu_speed_falls_back_to_the_rated_speed_in_the_model_name() -> None:
    [cpu] = parse_cpuinfo(CPUINFO_TWO_SOCKETS)
    assert cpu.frequency_mhz == 2100.0


def test_the_same_tree_gives_the_same_section_twice(machine: Path) -> None:
    assert collect_linux(machine).model_dump_json() == collect_linux(machine).model_dump_json()


@pytest.mark.parametrize("garbage", [
    pytest.param("-5\n", id="negative"),
    pytest.param("99999999999999999999999999\n", id="absurd"),
    pytest.param("lots\n", id="words"),
    pytest.param("\xff\xfe\x00\n", id="binary"),
])
def test_garbage_sysfs_values_cost_only_that_value(machine: Path, garbage: str) -> None:
    write(machine, "sys/block/sda/size", garbage)
    write(machine, "sys/class/dmi/id/chassis_type", garbage)
    write(machine, "proc/cpuinfo", CPUINFO_TWO_SOCKETS.replace("cpu cores\t: 2", f"cpu cores\t: {garbage}"))
    write(machine, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", garbage)
    inventory = collect_linux(machine)
    sda = next(disk for disk in inventory.disks if disk.name == "sda")
    assert sda.size_bytes == 0
    assert sda.model == "ST2000DM008-2FR1"
    assert inventory.system.chassis == ""
    assert inventory.system.manufacturer == "LENOVO"
    assert inventory.cpus[0].threads == 8
    assert inventory.cpus[0].frequency_mhz == 2100.0


def test_control_characters_and_long_strings_are_cleaned(machine: Path) -> None:
    write(machine, "sys/class/dmi/id/sys_vendor", "EVIL\x1b[31m\x07" + "x" * 2000)
    assert collect_linux(machine).system.manufacturer == "EVIL[31m" + "x" * 492


def test_a_broken_edid_is_skipped(machine: Path) -> None:
    write(machine, "sys/class/drm/card0-eDP-1/edid", b"\x00\xff\xff" + b"junk" * 40)
    assert displays(machine) == []
    assert parse_edid(b"") is None


def test_a_failing_part_is_logged_and_the_others_arrive(machine: Path, caplog: pytest.LogCaptureFixture) -> None:
    (machine / "proc/cpuinfo").unlink()
    (machine / "proc/cpuinfo").mkdir()  # reading a folder raises IsADirectoryError: the part yields nothing
    (machine / "sys/block").rename(machine / "sys/block-gone")
    (machine / "sys/block").write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        inventory = collect_linux(machine)
    assert inventory.cpus == []
    assert inventory.disks == []
    assert inventory.system.manufacturer == "LENOVO"
    assert inventory.peripherals


def test_a_part_that_raises_is_named_in_a_warning(machine: Path, caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: Path) -> list[Disk]:
        raise RuntimeError("sysfs went away")

    monkeypatch.setattr("agent.hardware.sysfs.disks", broken)
    inventory = collect_linux(machine)
    assert inventory.disks == []
    assert inventory.system.manufacturer == "LENOVO"
    assert "hardware part disks failed (RuntimeError: sysfs went away)" in caplog.text


def test_empty_memory_slots_and_junk_tables_give_no_module() -> None:
    assert parse_memory_device(memory_device("DIMM B", 0, 0, 0x02)) is None
    assert parse_memory_device(b"\x11\x05") is None
    assert parse_memory_device(b"\x10" + memory_device("X", 8192, 1, 1)[1:]) is None


def test_install_date_is_empty_without_any_marker(tmp_path: Path) -> None:
    assert install_date(tmp_path) is None


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree outside pytest's private tmp folder, so an unprivileged child process can read it."""
    folder = Path(tempfile.mkdtemp(prefix="fleetward-sysfs-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_root_only_dmi_attribute_does_not_lose_the_others(shared_tree: Path) -> None:
    dmi = "sys/class/dmi/id"
    for name, value in {"sys_vendor": "Dell Inc.", "product_name": "OptiPlex 7090", "product_serial": "7XK2Q93",
                        "product_uuid": "4c4c4544-0058-4b10-8032-b7c04f513933", "bios_version": "1.9.2"}.items():
        write(shared_tree, f"{dmi}/{name}", value + "\n")
    for path in shared_tree.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    for secret in ("product_serial", "product_uuid"):
        (shared_tree / dmi / secret).chmod(0o400)  # as on a real machine: root-only
    script = ("import sys; from pathlib import Path; from agent.hardware.sysfs import system_info; "
              "print(system_info(Path(sys.argv[1])).model_dump_json())")
    argv = [sys.executable, "-c", script, str(shared_tree)]
    if os.geteuid() == 0:  # root reads everything: run the collector as "nobody", as a real non-root agent
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop privileges to test a PermissionError")
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    completed = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    info = SystemInfo.model_validate(json.loads(completed.stdout))
    assert info == SystemInfo(manufacturer="Dell Inc.", model="OptiPlex 7090", bios_version="1.9.2")
    assert system_info(shared_tree).serial == ("7XK2Q93" if os.geteuid() == 0 else "")


def test_this_machine(caplog: pytest.LogCaptureFixture) -> None:
    started = time.process_time()
    inventory = collect_hardware()
    spent = time.process_time() - started
    assert isinstance(inventory, HardwareInventory)
    assert inventory.memory.total_bytes == psutil.virtual_memory().total
    assert sum(cpu.threads for cpu in inventory.cpus) == os.cpu_count()
    assert "lo" in {interface.name for interface in inventory.interfaces}
    lo = next(interface for interface in inventory.interfaces if interface.name == "lo")
    assert "127.0.0.1" in lo.ipv4
    assert "/" in {volume.mount for volume in inventory.volumes}
    assert all(volume.free_bytes % 1024**3 == 0 for volume in inventory.volumes)
    assert not any(disk.name.startswith(("loop", "zram", "ram")) for disk in inventory.disks)
    assert {disk.name for disk in inventory.disks} <= set(os.listdir("/sys/block"))
    assert inventory.os.kernel == os.uname().release
    assert inventory.os.last_boot is not None
    assert inventory.os.last_boot.timestamp() == pytest.approx(psutil.boot_time(), abs=1)
    assert "hardware part" not in caplog.text
    assert spent < 1.0, f"collecting the hardware section cost {spent:.2f} s of CPU"
