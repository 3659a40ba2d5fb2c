"""The ``hardware`` inventory section: what the OS tells about the machine.

One collector per OS, each built as parts gathered by :mod:`agent.hardware.gathering` (a failing part
is logged and reported empty, the rest still arrives):

- Linux (:mod:`.linux`): sysfs, procfs and psutil, no subprocess;
- Windows (:mod:`.windows`): one PowerShell run of Get-CimInstance, parsed by a pure function;
- macOS (:mod:`.macos`): one system_profiler run, parsed by a pure function.

The section is hashed and re-sent when it changes, so collectors keep it stable: lists sorted,
free space in whole GiB, no uptimes or current clock speeds.
"""

from __future__ import annotations

from agent.facts import current_os
from agent.hardware.linux import collect_linux
from agent.hardware.macos import collect_macos
from agent.hardware.windows import collect_windows
from schemas.inventory import HardwareInventory


def collect_hardware() -> HardwareInventory:
    """The machine's hardware now; parts the OS does not tell stay empty."""
    os_name = current_os()
    if os_name == "windows":
        return collect_windows()
    if os_name == "macos":
        return collect_macos()
    return collect_linux()
