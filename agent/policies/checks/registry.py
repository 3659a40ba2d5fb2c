"""``registry`` checks (Windows): a value exists, or not, and optionally equals some data.

Read with ``winreg`` (64-bit view) through :attr:`Host.registry`. ``equals`` compares numbers with
REG_DWORD/REG_QWORD data (a decimal string in REG_SZ also counts) and strings with REG_SZ /
REG_EXPAND_SZ data (REG_MULTI_SZ: one of its strings). Evidence shows numbers but never string
data, which may be a secret (an autologon password, a licence key).
"""

from __future__ import annotations

from agent.policies.checks.host import Host
from agent.policies.checks.results import Finding, judged
from schemas.checks import RegistryCheck


def evaluate_registry(check: RegistryCheck, host: Host) -> Finding:
    where = f"{check.key}\\{check.value}"
    found = host.registry(check.key, check.value)
    if found is None:
        return judged(not check.exists, f"{where} does not exist")
    if not check.exists:
        return judged(False, f"{where} exists and should not")
    if check.equals is None:
        return judged(True, f"{where} exists ({found.kind})")
    data = found.data
    if isinstance(check.equals, int):
        number = data if isinstance(data, int) else int(data) if isinstance(data, str) and data.strip().isdigit() \
            else None
        shown = str(number) if number is not None else f"{found.kind} data"
        return judged(number == check.equals, f"{where} is {shown}" + ("" if number == check.equals
                                                                      else f", should be {check.equals}"))
    strings = data if isinstance(data, list) else [data] if isinstance(data, str) else []
    ok = check.equals in strings
    return judged(ok, f"{where} {'equals' if ok else 'does not equal'} the expected string ({found.kind})")
