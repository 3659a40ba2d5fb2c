"""Inventory reports replace whole sections, keep their hashes, and ask again when the copy is stale."""

from __future__ import annotations

from datetime import timedelta

from controller.store import Store, ingest_inventory, list_managed, list_software
from schemas.protocol import Facts, InventoryReport, ManagedItem, SoftwareItem
from tests.store.builders import NOW, enroll, principal, rows


def _software(*names: str) -> list[SoftwareItem]:
    return [SoftwareItem(name=name, version="1", source="dpkg") for name in names]


def test_sections_replace_what_was_stored(store: Store) -> None:
    agent = principal(store, enroll(store))
    report = InventoryReport(
        full=True, facts=Facts(hostname="renamed", os="linux", arch="aarch64"),
        software=_software("curl", "git", "vim"),
        managed=[ManagedItem(package="tool", version="1.0.0", sha256="a" * 64)],
        hashes={"facts": "f1", "software": "s1", "managed": "m1"})
    assert ingest_inventory(store, agent, report, NOW) == ["facts", "software", "managed"]
    later = InventoryReport(full=False, software=_software("git", "htop"), managed=[],
                            hashes={"facts": "f1", "software": "s2", "managed": "m2"})
    assert ingest_inventory(store, agent, later, NOW + timedelta(hours=1)) == ["software", "managed"]

    assert [item.name for item in list_software(store, agent.agent_id, "acme")] == ["git", "htop"]
    assert list_managed(store, agent.agent_id, "acme") == []
    [row] = rows(store, "agents")
    assert (row["hostname"], row["facts"]["arch"]) == ("renamed", "aarch64")
    assert row["inventory_hashes"] == {"facts": "f1", "software": "s2", "managed": "m2"}
    assert row["inventory_wanted"] == "none"


def test_an_unchanged_report_keeps_everything(store: Store) -> None:
    agent = principal(store, enroll(store))
    full = InventoryReport(full=True, software=_software("curl"), hashes={"software": "s1"})
    ingest_inventory(store, agent, full, NOW)
    assert ingest_inventory(store, agent, InventoryReport(full=False, hashes={"software": "s1"}), NOW) == []
    assert [item.name for item in list_software(store, agent.agent_id, None)] == ["curl"]
    assert rows(store, "agents")[0]["inventory_wanted"] == "none"


def test_a_section_left_out_with_a_hash_the_controller_does_not_have_asks_for_a_full_report(
        store: Store) -> None:
    agent = principal(store, enroll(store))
    ingest_inventory(store, agent, InventoryReport(full=True, software=[], hashes={"software": "s1"}), NOW)
    stale = InventoryReport(full=False, hashes={"software": "s-other"})
    assert ingest_inventory(store, agent, stale, NOW) == []
    [row] = rows(store, "agents")
    assert (row["inventory_wanted"], row["inventory_hashes"]) == ("full", {"software": "s1"})


def test_one_agents_report_leaves_other_agents_alone(store: Store) -> None:
    first = principal(store, enroll(store, "acme", "one"))
    second = principal(store, enroll(store, "globex", "two"))
    ingest_inventory(store, first, InventoryReport(full=True, software=_software("curl")), NOW)
    ingest_inventory(store, second, InventoryReport(full=True, software=_software("git", "vim")), NOW)
    ingest_inventory(store, first, InventoryReport(full=False, software=[]), NOW)
    assert list_software(store, first.agent_id, None) == []
    assert [item.name for item in list_software(store, second.agent_id, "globex")] == ["git", "vim"]
    assert {row["client"] for row in rows(store, "asset_software_inventory")} == {"globex"}
