"""``firewall`` checks: is a host firewall enabled (or, with ``enabled: false``, disabled)?

* Linux: each of these that is installed is asked, and the firewall counts as enabled when any
  says so: ``ufw status`` (``Status: active``), ``firewall-cmd --state`` (``running``),
  ``nft -j list ruleset`` (a base chain on the ``input`` hook with policy drop or at least one
  rule), ``iptables -S INPUT`` (policy DROP or at least one ``-A INPUT`` rule). None installed,
  or none that could answer (they need root), is an error.
* Windows: ``Get-NetFirewallProfile``; enabled means every profile (Domain, Private, Public) is on,
  disabled that every one is off.
* macOS: ``socketfilterfw --getglobalstate`` (the application firewall; ``State = 1`` or ``2``).
"""

from __future__ import annotations

import re
from typing import Any

from agent.policies.checks.host import CommandFailed, CommandMissing, Host, parse_json
from agent.policies.checks.results import Finding, error, judged
from schemas.checks import FirewallCheck

WINDOWS_PROFILES = ("Get-NetFirewallProfile | ForEach-Object { \"{0}={1}\" -f $_.Name, $_.Enabled }")
MACOS_SOCKETFILTERFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"


def evaluate_firewall(check: FirewallCheck, host: Host) -> Finding:
    if host.os == "linux":
        answers, failures = _linux(host)
        if not answers:
            return error("no firewall tool could answer: " + ("; ".join(failures) or
                                                               "none of ufw, firewall-cmd, nft, iptables is installed"))
        enabled = any(on for on, _ in answers)
        shown = "; ".join(said for _, said in answers)
    elif host.os == "windows":
        text = host.powershell(WINDOWS_PROFILES).require_success("Get-NetFirewallProfile")
        profiles = dict(line.strip().partition("=")[::2] for line in text.splitlines() if "=" in line)
        if not profiles:
            return error("Get-NetFirewallProfile listed no profile")
        on = sorted(name for name, state in profiles.items() if state.lower() == "true")
        shown = ", ".join(f"{name} {'on' if name in on else 'off'}" for name in sorted(profiles))
        # Enabled only when every profile is on; disabled only when every profile is off.
        ok = len(on) == len(profiles) if check.enabled else not on
        return judged(ok, f"firewall profiles: {shown}")
    else:
        text = host.run([MACOS_SOCKETFILTERFW, "--getglobalstate"]).require_success("socketfilterfw")
        state = re.search(r"State = (\d+)", text)
        if state is None:
            return error(f"socketfilterfw said {text.strip()[:200]!r}")
        enabled = int(state.group(1)) >= 1
        shown = f"application firewall {'on' if enabled else 'off'} (state {state.group(1)})"
    return judged(enabled == check.enabled, f"firewall {'enabled' if enabled else 'disabled'}: {shown}")


def _linux(host: Host) -> tuple[list[tuple[bool, str]], list[str]]:
    answers: list[tuple[bool, str]] = []
    failures: list[str] = []
    for tool, ask in (("ufw", _ufw), ("firewall-cmd", _firewalld), ("nft", _nft), ("iptables", _iptables)):
        try:
            answers.append(ask(host))
        except CommandMissing:
            continue
        except CommandFailed as failed:
            failures.append(f"{tool}: {failed}")
    return answers, failures


def _ufw(host: Host) -> tuple[bool, str]:
    text = host.run(["ufw", "status"]).require_success("ufw status")
    active = re.search(r"^Status: active", text, re.MULTILINE) is not None
    return active, f"ufw {'active' if active else 'inactive'}"


def _firewalld(host: Host) -> tuple[bool, str]:
    output = host.run(["firewall-cmd", "--state"])
    said = (output.stdout or output.stderr).strip()
    if said not in ("running", "not running"):
        output.require_success("firewall-cmd --state")
        raise CommandFailed(f"firewall-cmd --state said {said[:100]!r}")
    return said == "running", f"firewalld {said}"


def _nft(host: Host) -> tuple[bool, str]:
    ruleset = parse_json(host.run(["nft", "-j", "list", "ruleset"]).require_success("nft list ruleset"),
                         "nft -j list ruleset")
    items: list[dict[str, Any]] = ruleset.get("nftables", []) if isinstance(ruleset, dict) else []
    input_chains = {(c["family"], c["table"], c["name"]): c for item in items
                    if isinstance(c := item.get("chain"), dict) and c.get("hook") == "input"}
    rules = sum(1 for item in items if isinstance(r := item.get("rule"), dict)
                and (r.get("family"), r.get("table"), r.get("chain")) in input_chains)
    dropping = any(chain.get("policy") == "drop" for chain in input_chains.values())
    enabled = dropping or rules > 0
    return enabled, (f"nftables: {len(input_chains)} input chain(s), {rules} rule(s)"
                     + (", policy drop" if dropping else ""))


def _iptables(host: Host) -> tuple[bool, str]:
    text = host.run(["iptables", "-S", "INPUT"]).require_success("iptables -S INPUT")
    policy = re.search(r"^-P INPUT (\S+)", text, re.MULTILINE)
    rules = len(re.findall(r"^-A INPUT ", text, re.MULTILINE))
    closed = bool(policy) and policy.group(1) in ("DROP", "REJECT")  # type: ignore[union-attr]
    return closed or rules > 0, f"iptables: INPUT policy {policy.group(1) if policy else '?'}, {rules} rule(s)"

