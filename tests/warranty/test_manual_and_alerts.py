"""Manual Warranty records win over lookups; expiry alerts per device at 90/60/30 days and after the end."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from controller.demo.fake_warranty import FakeDellApi, dell_asset
from controller.store import list_alerts
from controller.warranty import WarrantyRefresher
from controller.warranty.alerting import DeviceWarranty, warranty_alerts
from tests.warranty.conftest import NOW

TODAY = NOW.date()


def ending(tag: str, end: date) -> dict:
    return dell_asset(tag, "OptiPlex 7010", [("Basic Onsite", "2023-01-01", end.isoformat(), "INITIAL")])


@pytest.fixture
def dell():
    with FakeDellApi("id", "secret", {"DM00001": ending("DM00001", date(2029, 1, 31))}) as server:
        yield server


@pytest.fixture
def refresher(fleet):
    made = WarrantyRefresher(fleet.store, fleet.sealed, fleet.clock, lambda: fleet.applied)
    yield made
    made.close()


def settings(fleet, server) -> dict:
    return {"dell": {"clientId": fleet.seal("id"), "clientSecret": fleet.seal("secret"), "baseUrl": server.base_url}}


MANUAL = {"serial": "DM00001", "vendor": "Dell (extended by reseller)", "model": "OptiPlex 7010",
          "start": "2023-01-01", "end": "2031-12-31", "serviceLevel": "NBD onsite via reseller", "kind": "extended"}


def test_a_manual_record_wins_and_its_removal_brings_the_vendor_answer_back(fleet, dell, refresher):
    fleet.device("Dell Inc.", "DM00001")
    fleet.apply(settings(fleet, dell))
    refresher.refresh()
    assert fleet.row("DM00001")["end"] == date(2029, 1, 31)

    fleet.apply(settings(fleet, dell), records=[("acme", MANUAL)], revision="b" * 40)
    refresher.refresh()
    row = fleet.row("DM00001")
    assert (row["source"], row["vendor"], row["end"], row["service_level"]) == (
        "manual", "Dell (extended by reseller)", date(2031, 12, 31), "NBD onsite via reseller")
    assert row["data"]["manual"]["ref"].endswith("w0")

    calls = len(dell.api_calls())
    fleet.clock.advance(days=90)  # the vendor answer is stale, but a manual record is never looked up
    refresher.refresh()
    assert len(dell.api_calls()) == calls

    fleet.apply(settings(fleet, dell), records=[], revision="c" * 40)
    assert refresher.sync_manual() == 1
    row = fleet.row("DM00001")
    assert (row["source"], row["end"]) == ("dell", date(2029, 1, 31))
    assert len(dell.api_calls()) == calls  # shown from what the vendor said before...
    refresher.refresh()
    assert len(dell.api_calls()) == calls + 1  # ...and asked again because that answer is stale


def test_a_manual_record_for_a_vendor_without_api(fleet, refresher):
    fleet.device("Fujitsu", "FJ12345678")
    fleet.apply(records=[("acme", {**MANUAL, "serial": "FJ12345678", "vendor": "Fujitsu"})])
    refresher.refresh()
    assert fleet.row("FJ12345678")["source"] == "manual"
    fleet.apply(records=[], revision="d" * 40)
    refresher.refresh()
    assert fleet.row("FJ12345678") is None  # nothing to fall back to


def test_an_unchanged_revision_writes_nothing(fleet, refresher):
    fleet.apply(records=[("acme", MANUAL)])
    assert refresher.sync_manual() == 1
    assert refresher.sync_manual() == 0
    assert refresher.refresh().manual_changes == 0


@pytest.mark.parametrize(("days_left", "expected"), [
    pytest.param(200, None, id="far"),
    pytest.param(90, ("warranty.expiring", "info"), id="90-days"),
    pytest.param(61, ("warranty.expiring", "info"), id="61-days"),
    pytest.param(60, ("warranty.expiring", "warning"), id="60-days"),
    pytest.param(30, ("warranty.expiring", "critical"), id="30-days"),
    pytest.param(0, ("warranty.expiring", "critical"), id="last-day"),
    pytest.param(-1, ("warranty.expired", "critical"), id="expired"),
])
def test_expiry_thresholds(days_left, expected):
    device = DeviceWarranty("a_1", "acme", "pc-1", "DM00001", "dell", TODAY + timedelta(days=days_left))
    alerts = warranty_alerts([device], [], TODAY)
    assert [(a.type, a.severity) for a in alerts] == ([expected] if expected else [])


def test_alerts_go_to_the_device_client_and_clear_when_extended(fleet, refresher):
    acme = fleet.device("Fujitsu", "FJ00000001", client="acme", hostname="acme-pc")
    globex = fleet.device("Fujitsu", "FJ00000002", client="globex", hostname="globex-pc")
    records = [("acme", {**MANUAL, "serial": "FJ00000001", "end": (TODAY + timedelta(days=20)).isoformat()}),
               ("globex", {**MANUAL, "serial": "FJ00000002", "end": (TODAY - timedelta(days=3)).isoformat()})]
    fleet.apply(records=records)
    refresher.refresh()
    opened = {(a.agent_id, a.client, a.type, a.severity) for a in list_alerts(fleet.store, None, state="open")}
    assert opened == {(acme, "acme", "warranty.expiring", "critical"),
                      (globex, "globex", "warranty.expired", "critical")}
    assert all(a.key.startswith("warranty:") for a in list_alerts(fleet.store, None, state="open"))

    extended = [records[0], ("globex", {**records[1][1], "end": (TODAY + timedelta(days=400)).isoformat()})]
    fleet.apply(records=extended, revision="e" * 40)
    refresher.sync_manual()
    assert [(a.agent_id, a.type) for a in list_alerts(fleet.store, None, state="open")] == [
        (acme, "warranty.expiring")]
    assert [a.agent_id for a in list_alerts(fleet.store, "globex", state="cleared")] == [globex]


def test_severity_rises_on_the_same_alert_as_the_end_nears(fleet, refresher):
    fleet.device("Fujitsu", "FJ00000003")
    fleet.apply(records=[("acme", {**MANUAL, "serial": "FJ00000003",
                                   "end": (TODAY + timedelta(days=75)).isoformat()})])
    refresher.refresh()
    fleet.clock.advance(days=20)
    refresher.refresh()
    (alert,) = list_alerts(fleet.store, None, state="open")
    assert (alert.severity, "55 days" in alert.message) == ("warning", True)
    assert len(list_alerts(fleet.store, None)) == 1
