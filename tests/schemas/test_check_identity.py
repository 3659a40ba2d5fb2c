"""What two checks set on a machine, and when they cannot both hold (the loader's conflict rule)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from schemas.checks import Check

CHECK: TypeAdapter[Any] = TypeAdapter(Check)


def check(**fields: Any) -> Any:
    return CHECK.validate_python({"name": "x", **fields})


@pytest.mark.parametrize(("one", "other", "why"), [
    pytest.param({"type": "package", "package": "Curl", "version": "7.80"},
                 {"type": "package", "package": "curl", "version": ">=7.88"},
                 "version 7.80 here, >=7.88 there", id="package-exact-below-minimum"),
    pytest.param({"type": "package", "package": "curl", "version": "7.90"},
                 {"type": "package", "package": "curl", "version": ">=7.88"}, None, id="package-exact-above-minimum"),
    pytest.param({"type": "package", "package": "curl", "version": "8.0"},
                 {"type": "package", "package": "curl", "installed": False}, "installed true here, false there",
                 id="package-installed"),
    pytest.param({"type": "file", "path": "/etc/motd", "mode": "644"}, {"type": "file", "path": "/etc/motd",
                                                                       "mode": "0644"}, None, id="file-same-mode"),
    pytest.param({"type": "file", "path": "/etc/motd", "mode": "0600"},
                 {"type": "file", "path": "/etc/motd", "mode": "0644"}, "mode 0600 here, 0644 there", id="file-mode"),
    pytest.param({"type": "file", "path": "/etc/motd", "contains": "a"},
                 {"type": "file", "path": "/etc/motd", "contains": "b"}, None, id="file-two-patterns"),
    pytest.param({"type": "localAdmins", "allowed": ["root", "ops"], "match": "exact"},
                 {"type": "localAdmins", "allowed": ["root"]}, "exactly [ops, root] here, only [root] allowed there",
                 id="admins-exact-outside-subset"),
    pytest.param({"type": "localAdmins", "allowed": ["root"]}, {"type": "localAdmins", "allowed": ["ops"]}, None,
                 id="admins-two-subsets"),
    pytest.param({"type": "firewall"}, {"type": "firewall", "enabled": False}, "enabled true here, false there",
                 id="firewall"),
    pytest.param({"type": "process", "process": "Agent.exe"}, {"type": "process", "process": "agent.exe",
                                                               "running": False}, "running true here, false there",
                 id="process-ignores-case"),
])
def test_checks_with_one_identity_disagree_only_when_both_cannot_hold(one, other, why):
    first, second = check(**one), check(**other)
    assert first.identity() == second.identity() is not None
    assert first.disagreement(second) == why


@pytest.mark.parametrize("fields", [
    {"type": "screenLock", "maxTimeoutSeconds": 600}, {"type": "diskFree", "minFreePercent": 10},
    {"type": "osUpdateAge", "maxDays": 30}, {"type": "diskEncryption"}, {"script": "anything"},
], ids=["screenLock", "diskFree", "osUpdateAge", "diskEncryption", "script"])
def test_bounds_and_scripts_have_no_identity(fields):
    assert check(**fields).identity() is None
