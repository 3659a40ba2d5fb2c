"""``localAdmins`` checks: who is in the local administrators group.

* Linux: members of ``sudo``, ``wheel`` and ``admin`` (those that exist), listed members and users
  whose primary group it is (``/etc/group`` and ``/etc/passwd`` via ``grp``/``pwd``). Grants in
  ``/etc/sudoers`` to single users are not read.
* Windows: ``Get-LocalGroupMember -SID S-1-5-32-544`` (Administrators, in any language), names as
  ``DOMAIN\\user``; an allowed name matches the full name or the part after the backslash,
  case-insensitively.
* macOS: ``dscl . -read /Groups/admin GroupMembership`` (``root`` is listed there on every Mac;
  allow it).

``match: subset`` - no one outside ``allowed``; ``exact`` - exactly ``allowed``.
"""

from __future__ import annotations

from agent.policies.checks.host import Host
from agent.policies.checks.results import Finding, error, judged
from schemas.checks import LocalAdminsCheck

LINUX_ADMIN_GROUPS = ("sudo", "wheel", "admin")
WINDOWS_ADMINISTRATORS = "Get-LocalGroupMember -SID S-1-5-32-544 | ForEach-Object { $_.Name }"


def evaluate_local_admins(check: LocalAdminsCheck, host: Host) -> Finding:
    if host.os == "linux":
        members: set[str] = set()
        groups = []
        for group in LINUX_ADMIN_GROUPS:
            listed = host.group_members(group)
            if listed is not None:
                groups.append(group)
                members.update(listed)
        where = "+".join(groups) or "no sudo/wheel/admin group"
    elif host.os == "windows":
        text = host.powershell(WINDOWS_ADMINISTRATORS).require_success("Get-LocalGroupMember")
        members = {line.strip() for line in text.splitlines() if line.strip()}
        where = "Administrators"
    else:
        text = host.run(["dscl", ".", "-read", "/Groups/admin", "GroupMembership"]).require_success("dscl")
        head, _, names = text.partition(":")
        if head.strip() != "GroupMembership":
            return error(f"dscl printed {text.strip()[:200]!r}")
        members = set(names.split())
        where = "admin"
    allowed = set(check.allowed)
    extra = sorted(member for member in members if not _allowed(member, allowed, host.os))
    missing = sorted(name for name in allowed if not any(_same(name, member, host.os) for member in members))
    problems = []
    if extra:
        problems.append(f"not allowed: {', '.join(extra)}")
    if check.match == "exact" and missing:
        problems.append(f"missing: {', '.join(missing)}")
    shown = f"{where}: {', '.join(sorted(members)) or 'no members'}"
    return judged(not problems, "; ".join([*problems, shown]))


def _same(allowed: str, member: str, os_name: str) -> bool:
    if os_name != "windows":
        return allowed == member
    allowed, member = allowed.casefold(), member.casefold()
    return allowed in (member, member.rpartition("\\")[2])


def _allowed(member: str, allowed: set[str], os_name: str) -> bool:
    return any(_same(name, member, os_name) for name in allowed)
