"""Many reports, one transaction: the store's batch ingest and the API's group-commit writer."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

import controller.ingesting as ingesting
from controller.errors import NotFound
from controller.ingesting import InventoryIngester
from controller.store import (
    AgentPrincipal,
    InventoryUpload,
    Store,
    create_enrollment_token,
    enroll_agent,
    ingest_inventories,
    list_device_software,
    list_history,
)
from controller.store.tables import agents
from schemas.protocol import Facts, InventoryReport, SoftwareDelta, SoftwareItem
from tests.support.held_writers import HeldWriter

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture
def store(database_url):
    opened = Store.open(database_url)
    yield opened
    opened.close()


def _agent(store: Store, host: str) -> AgentPrincipal:
    token = create_enrollment_token(store, "acme", created_by="tests", now=NOW)
    enrolled = enroll_agent(store, token, Facts(hostname=host, os="linux"), {}, NOW)
    return AgentPrincipal(agent_id=enrolled.agent_id, client="acme", last_job_seq=0, inventory_wanted="full")


def _report(version: str, *extra: str) -> InventoryReport:
    items = [SoftwareItem(name="openssl", version=version, source="dpkg", arch="amd64")]
    items += [SoftwareItem(name=name, version="1", source="dpkg") for name in extra]
    return InventoryReport(full=False, software=items, hashes={"software": f"h-{version}-{len(extra)}"})


def _software(store: Store, agent: AgentPrincipal) -> list[tuple[str, str]]:
    return [(item.name, item.version) for item in list_device_software(store, agent.agent_id, None).items]


def test_a_batch_writes_each_device_and_applies_a_repeated_device_in_order(store):
    first, second = _agent(store, "one"), _agent(store, "two")
    results = ingest_inventories(store, [
        InventoryUpload(first, _report("3.0.9")),
        InventoryUpload(second, _report("3.0.11", "curl")),
        InventoryUpload(first, _report("3.0.13", "git")),  # the same agent again: applied after the first
    ], NOW)
    assert results == [["software"], ["software"], ["software"]]
    assert _software(store, first) == [("git", "1"), ("openssl", "3.0.13")]
    assert _software(store, second) == [("curl", "1"), ("openssl", "3.0.11")]
    history = {(item.hostname, item.change, item.item, item.old, item.new)
               for item in list_history(store, None)}
    assert history == {  # the first report of a device is its baseline; the second one's changes are history
        ("one", "upgraded", "openssl (amd64, dpkg)", "3.0.9", "3.0.13"),
        ("one", "added", "git (dpkg)", None, "1"),
    }


def _held(store: Store, monkeypatch: pytest.MonkeyPatch) -> HeldWriter:
    """An ingester whose first batch waits until released, so later reports queue up behind it."""
    return HeldWriter(InventoryIngester(store), monkeypatch, ingesting, "ingest_inventories")


def _send(writer: HeldWriter, agent: AgentPrincipal, report: InventoryReport) -> None:
    writer.send(agent.agent_id, (InventoryUpload(agent, report), NOW))


def test_the_writer_batches_concurrent_reports_into_one_transaction(store, monkeypatch):
    agents = [_agent(store, f"host-{index:02d}") for index in range(20)]
    writer = _held(store, monkeypatch)
    _send(writer, agents[0], _report("3.0.11"))
    writer.wait_held()
    for agent in agents[1:]:
        _send(writer, agent, _report("3.0.11"))
    writer.wait_queued(19)
    writer.release()
    assert writer.outcomes == {agent.agent_id: ["software"] for agent in agents}
    assert writer.writer.batches == 2
    assert all(_software(store, agent) == [("openssl", "3.0.11")] for agent in agents)


def test_one_bad_report_does_not_cost_the_others_their_write(store, monkeypatch):
    first, good = _agent(store, "first"), _agent(store, "good")
    ghost = AgentPrincipal(agent_id="a_" + "0" * 32, client="acme", last_job_seq=0, inventory_wanted="full")
    writer = _held(store, monkeypatch)
    _send(writer, first, _report("3.0.9"))
    writer.wait_held()
    _send(writer, good, _report("3.0.11"))
    _send(writer, ghost, _report("3.0.11"))
    writer.wait_queued(2)  # good and ghost go in one batch, which fails and is retried one by one
    writer.release()
    assert writer.outcomes[good.agent_id] == ["software"]
    assert isinstance(writer.outcomes[ghost.agent_id], NotFound)
    assert _software(store, good) == [("openssl", "3.0.11")]
    assert writer.writer.batches == 2  # the held one, and good's on its own


def test_a_closed_ingester_refuses_new_reports(store):
    ingester = InventoryIngester(store)
    ingester.close()
    with pytest.raises(RuntimeError, match="closed"):
        ingester.ingest(InventoryUpload(_agent(store, "late"), _report("1")), NOW)


def test_values_read_back_exactly_as_written(store):
    agent = _agent(store, "dates")
    installed = date(2026, 1, 15)
    report = InventoryReport(full=False, hashes={"software": "h"}, software=[
        SoftwareItem(name="curl", version="7.88", source="dpkg", publisher="Debian", install_date=installed)])
    ingest_inventories(store, [InventoryUpload(agent, report)], NOW)
    (item,) = list_device_software(store, agent.agent_id, None).items
    assert (item.install_date, item.updated_at, item.publisher) == (installed, NOW, "Debian")


def test_a_publisher_change_rewrites_the_row_and_is_not_history(store):
    agent = _agent(store, "pub")
    for publisher in ("Debian", "Debian Security"):
        report = InventoryReport(full=False, hashes={"software": publisher}, software=[
            SoftwareItem(name="curl", version="7.88", source="dpkg", publisher=publisher)])
        ingest_inventories(store, [InventoryUpload(agent, report)], NOW)
    assert [item.publisher for item in list_device_software(store, agent.agent_id, None).items] == ["Debian Security"]
    assert list_history(store, None) == []


def test_a_name_holding_a_separator_is_stored_and_removed_like_any_other(store):
    agent = _agent(store, "odd")
    odd = SoftwareItem(name="odd\x1ename\x1f", version="1", source="other")
    plain = SoftwareItem(name="plain", version="1", source="other")
    ingest_inventories(store, [InventoryUpload(agent, InventoryReport(full=False, software=[odd, plain]))], NOW)
    assert _software(store, agent) == [("oddname", "1"), ("plain", "1")]
    ingest_inventories(store, [InventoryUpload(agent, InventoryReport(full=False, software=[plain]))], NOW)
    assert _software(store, agent) == [("plain", "1")]
    assert [(item.change, item.item) for item in list_history(store, None)] == [("removed", "oddname (other)")]


def _delta(base: str, result: str, added: list[SoftwareItem], removed: list[SoftwareItem]) -> InventoryReport:
    return InventoryReport(full=False, software_delta=SoftwareDelta(base=base, added=added, removed=removed),
                           hashes={"software": result})


def test_a_software_delta_applies_to_the_section_it_was_computed_from(store):
    agent = _agent(store, "delta")
    ingest_inventories(store, [InventoryUpload(agent, _report("3.0.11", "curl", "git"))], NOW)  # hash h-3.0.11-2
    upgrade = _delta("h-3.0.11-2", "h-next", added=[
        SoftwareItem(name="openssl", version="3.0.13", source="dpkg", arch="amd64")], removed=[
        SoftwareItem(name="openssl", version="3.0.11", source="dpkg", arch="amd64"),
        SoftwareItem(name="curl", version="1", source="dpkg")])
    assert ingest_inventories(store, [InventoryUpload(agent, upgrade)], NOW) == [["software"]]
    assert _software(store, agent) == [("git", "1"), ("openssl", "3.0.13")]
    assert {(item.change, item.item) for item in list_history(store, None)} == {
        ("upgraded", "openssl (amd64, dpkg)"), ("removed", "curl (dpkg)")}
    # A delta from a section the controller does not hold is refused, and a full report is wanted.
    stale = _delta("h-something-else", "h-later", added=[SoftwareItem(name="vim", version="9", source="dpkg")],
                   removed=[])
    assert ingest_inventories(store, [InventoryUpload(agent, stale)], NOW) == [[]]
    assert _software(store, agent) == [("git", "1"), ("openssl", "3.0.13")]
    with store.read() as session:
        wanted = session.execute(select(agents.c.inventory_wanted).where(agents.c.id == agent.agent_id)).scalar()
    assert wanted == "full"


def test_a_delta_before_any_section_is_refused(store):
    agent = _agent(store, "fresh")
    early = _delta("h-x", "h-y", added=[SoftwareItem(name="vim", version="9", source="dpkg")], removed=[])
    assert ingest_inventories(store, [InventoryUpload(agent, early)], NOW) == [[]]
    assert _software(store, agent) == []


def test_a_report_cannot_carry_both_software_forms():
    with pytest.raises(ValueError, match="not both"):
        InventoryReport(full=False, software=[], software_delta=SoftwareDelta(base="h"))
