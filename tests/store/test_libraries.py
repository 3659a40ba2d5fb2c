"""The applied revision's script categories and policy templates in SQL, scoped like the other projections."""

from __future__ import annotations

from controller.desired import DesiredState
from controller.store import Store, record_applied
from controller.store.projection import list_policy_templates, list_script_categories
from tests.store.builders import NOW, Commit
from tests.support.resources import client, desired, resource

FIRST, SECOND = "1" * 40, "2" * 40


def script(name: str, category: str, os: list[str], shell: str = "bash"):
    return resource("Script", name, {"shell": shell, "file": f"scripts/{name}.sh", "os": os, "category": category})


def template(name: str, category: str, os: list[str]):
    return resource("PolicyTemplate", name, {
        "category": category, "os": os, "description": f"{name} holds",
        "parameters": [{"name": "path", "type": "string", "default": "/"}],
        "checks": [{"name": "there", "type": "fileExists", "path": "{{ params.path }}"}]})


def _fleet(revision: str = FIRST) -> DesiredState:
    return desired([
        ("acme", client("acme")),
        ("globex", client("globex")),
        (None, script("disk-free", "storage", ["linux"])),
        (None, script("tmp-cleanup", "storage", ["linux", "macos"])),
        (None, script("defender", "antivirus", ["windows"], shell="powershell")),
        ("acme", script("acme-backup", "backup", ["linux"])),
        ("acme", script("acme-disk", "storage", ["windows"], shell="powershell")),
        ("globex", script("globex-secret", "secret-stuff", ["linux"])),
        (None, template("disk-cleanup", "storage", ["linux"])),
        (None, template("firewall", "network", ["linux", "windows"])),
        ("globex", template("globex-only", "network", ["linux"])),
    ], revision=revision)


def test_script_categories_count_the_scripts_a_scope_sees(store: Store) -> None:
    record_applied(store, FIRST, "main", Commit(), _fleet(), NOW)

    acme = {item.name: (item.scripts, item.os) for item in list_script_categories(store, "acme")}
    assert acme == {"antivirus": (1, ["windows"]), "backup": (1, ["linux"]),
                    "storage": (3, ["linux", "macos", "windows"])}  # two MSP-wide and acme's own
    everyone = [item.name for item in list_script_categories(store, None)]
    assert everyone == ["antivirus", "backup", "secret-stuff", "storage"]
    assert [item.name for item in list_script_categories(store, "initech")] == ["antivirus", "storage"]


def test_policy_templates_are_projected_per_revision_and_scoped(store: Store) -> None:
    record_applied(store, FIRST, "main", Commit(), _fleet(), NOW)

    assert [item.id for item in list_policy_templates(store, "acme")] == ["disk-cleanup", "firewall"]
    globex = list_policy_templates(store, "globex")
    assert [item.id for item in globex] == ["disk-cleanup", "firewall", "globex.globex-only"]
    assert [item.id for item in list_policy_templates(store, None, os="windows")] == ["firewall"]
    assert [item.id for item in list_policy_templates(store, "globex", category="network")] == [
        "firewall", "globex.globex-only"]
    disk = globex[0]
    assert (disk.client, disk.category, disk.os, disk.revision) == (None, "storage", ["linux"], FIRST)
    assert disk.spec["parameters"][0]["name"] == "path"
    assert disk.spec["checks"][0]["path"] == "{{ params.path }}"  # the template as written, not rendered

    record_applied(store, SECOND, "main", Commit(), desired([(None, template("firewall", "network", ["linux"]))],
                                                            revision=SECOND), NOW)
    assert [(item.id, item.os, item.revision) for item in list_policy_templates(store, None)] == [
        ("firewall", ["linux"], SECOND)]
    assert list_script_categories(store, None) == []
