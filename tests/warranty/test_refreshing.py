"""The refresher against a local Dell: only due serials asked, cache kept on failure, retry timing."""

from __future__ import annotations

import asyncio
import threading
from datetime import date, timedelta

import pytest

from controller.demo.fake_warranty import FakeDellApi, Scripted, dell_asset, json_reply
from controller.warranty import WarrantyRefresher
from controller.warranty.records import AUTH_RETRY, BACKOFF_START
from tests.warranty.servers import FakeLenovoApi, lenovo_record

DELL_ID, DELL_SECRET = "dell-id", "dell-secret"


def asset(tag: str, end: str = "2028-03-31") -> dict:
    return dell_asset(tag, "Latitude 7440", [("ProSupport", "2024-04-01", end, "EXTENDED")])


@pytest.fixture
def dell():
    with FakeDellApi(DELL_ID, DELL_SECRET, {f"DL{i:05d}": asset(f"DL{i:05d}") for i in range(250)}) as server:
        yield server


def dell_settings(fleet, server, *, secret: str = DELL_SECRET, cache_days: int = 30) -> dict:
    return {"dell": {"clientId": fleet.seal(DELL_ID), "clientSecret": fleet.seal(secret), "baseUrl": server.base_url},
            "cacheDays": cache_days}


@pytest.fixture
def refresher(fleet):
    made = WarrantyRefresher(fleet.store, fleet.sealed, fleet.clock, lambda: fleet.applied)
    yield made
    made.close()


def asked_tags(server: FakeDellApi) -> list[str]:
    return sorted(t for call in server.api_calls() for t in call.query["servicetags"][0].split(","))


def test_asks_only_due_serials_of_configured_vendors_in_batches(fleet, dell, refresher):
    for i in range(250):
        fleet.device("Dell Inc.", f"DL{i:05d}")
    fleet.device("Dell Inc.", "To Be Filled By O.E.M.")
    fleet.device("Dell Inc.", "0")
    fleet.device("LENOVO", "PF1234567")  # Lenovo is not configured
    fleet.device("ASUSTeK COMPUTER INC.", "N1234567")
    fleet.apply(dell_settings(fleet, dell))

    report = refresher.refresh()

    assert report.asked == {"dell": 250} and report.found == 250
    assert sorted(len(call.query["servicetags"][0].split(",")) for call in dell.api_calls()) == [50, 100, 100]
    assert asked_tags(dell) == [f"DL{i:05d}" for i in range(250)]
    row = fleet.row("DL00007")
    assert (row["source"], row["vendor"], row["end"], row["service_level"]) == (
        "dell", "dell", date(2028, 3, 31), "ProSupport")
    assert row["fresh_until"] == fleet.clock.now + timedelta(days=30)
    assert fleet.row("PF1234567") is None and fleet.row("0") is None

    calls = len(dell.api_calls())
    fleet.clock.advance(days=29)
    assert refresher.refresh().asked == {}
    assert len(dell.api_calls()) == calls

    fleet.clock.advance(days=2)  # past fresh_until: everything is stale and asked again
    assert refresher.refresh().asked == {"dell": 250}


def test_a_new_device_is_asked_about_alone(fleet, dell, refresher):
    fleet.device("Dell Inc.", "DL00001")
    fleet.apply(dell_settings(fleet, dell))
    refresher.refresh()
    fleet.device("Dell Inc.", "DL00002")
    refresher.refresh()
    assert [call.query["servicetags"] for call in dell.api_calls()] == [["DL00001"], ["DL00002"]]


def test_throttling_keeps_the_cache_and_honours_retry_after(fleet, dell, refresher):
    fleet.device("Dell Inc.", "DL00001")
    fleet.apply(dell_settings(fleet, dell, cache_days=1))
    refresher.refresh()
    fleet.clock.advance(days=2)
    dell.script.append(json_reply(429, {"error": "quota"}, {"Retry-After": "1800"}))

    report = refresher.refresh()

    row = fleet.row("DL00001")
    assert "rate limited" in report.failed["dell"]
    assert row["end"] == date(2028, 3, 31)  # the cached answer stays
    assert "rate limited" in row["last_error"]
    assert row["next_attempt_at"] == fleet.clock.now + timedelta(seconds=1800)
    calls = len(dell.api_calls())
    fleet.clock.advance(seconds=1700)
    refresher.refresh()
    assert len(dell.api_calls()) == calls  # still waiting as the vendor asked
    fleet.clock.advance(seconds=200)
    refresher.refresh()
    row = fleet.row("DL00001")
    assert (row["last_error"], row["next_attempt_at"]) == ("", None)
    assert len(dell.api_calls()) == calls + 1


@pytest.mark.parametrize("failure", [
    pytest.param(json_reply(502, {"error": "bad gateway"}), id="5xx"),
    pytest.param(Scripted(200, b"{{{ not json"), id="garbage"),
    pytest.param(Scripted(200, b"[" + b"0," * 3_000_000 + b"0]"), id="huge"),
])
def test_failures_back_off_doubling(fleet, dell, refresher, failure):
    fleet.device("Dell Inc.", "DL00003")
    fleet.apply(dell_settings(fleet, dell))
    dell.script.extend([failure, failure])
    refresher.refresh()
    first = fleet.row("DL00003")
    assert first["next_attempt_at"] == fleet.clock.now + timedelta(seconds=BACKOFF_START)
    assert first["end"] is None and first["last_error"]
    fleet.clock.now = first["next_attempt_at"]
    refresher.refresh()
    assert fleet.row("DL00003")["next_attempt_at"] == fleet.clock.now + timedelta(seconds=2 * BACKOFF_START)
    fleet.clock.now = fleet.row("DL00003")["next_attempt_at"]
    refresher.refresh()
    assert fleet.row("DL00003")["end"] == date(2028, 3, 31)


def test_refused_credentials_show_as_an_alert_until_fixed(fleet, dell, refresher):
    from controller.store import list_alerts

    fleet.device("Dell Inc.", "DL00004")
    fleet.apply(dell_settings(fleet, dell, secret="wrong"))
    report = refresher.refresh()
    assert "refused the credentials" in report.failed["dell"]
    assert fleet.row("DL00004")["next_attempt_at"] == fleet.clock.now + timedelta(seconds=AUTH_RETRY)
    (alert,) = list_alerts(fleet.store, None, state="open", type="warranty.lookup-failed")
    assert "fleet.yaml" in alert.message and "wrong" not in alert.message

    fleet.apply(dell_settings(fleet, dell), revision="b" * 40)  # the fixed fleet.yaml
    fleet.clock.advance(seconds=AUTH_RETRY)
    refresher.refresh()
    assert fleet.row("DL00004")["last_error"] == ""
    assert list_alerts(fleet.store, None, state="open", type="warranty.lookup-failed") == []


def test_a_sealed_value_that_does_not_open_is_recorded_not_raised(fleet, dell, refresher):
    fleet.device("Dell Inc.", "DL00005")
    settings = dell_settings(fleet, dell)
    settings["dell"]["clientSecret"] = "sealed:v1:0000000000000000:" + "A" * 80
    fleet.apply(settings)
    report = refresher.refresh()
    assert "cannot be opened" in report.failed["dell"]
    assert "fleet.yaml" in fleet.row("DL00005")["last_error"]
    assert dell.requests == []


def test_one_vendor_failing_does_not_stop_another(fleet, dell, refresher):
    with FakeLenovoApi("lenovo-id", {"PF0000001": lenovo_record("PF0000001", "ThinkPad T14", [
            ("Base", "2024-01-01", "2027-01-01", "BASE")])}) as lenovo:
        fleet.device("Dell Inc.", "DL00006")
        fleet.device("LENOVO", "PF0000001")
        settings = dell_settings(fleet, dell)
        settings["lenovo"] = {"clientId": fleet.seal("lenovo-id"), "baseUrl": lenovo.base_url}
        fleet.apply(settings)
        dell.script.append(json_reply(500, {}))
        report = refresher.refresh()
    assert set(report.failed) == {"dell"} and report.asked == {"dell": 1, "lenovo": 1}
    assert fleet.row("PF0000001")["end"] == date(2027, 1, 1)


def test_the_background_loop_survives_a_vendor_that_hangs_up(fleet, dell):
    fleet.device("Dell Inc.", "DL00008")
    fleet.apply(dell_settings(fleet, dell))
    dell.script.extend([json_reply(500, {})] * 3)
    refresher = WarrantyRefresher(fleet.store, fleet.sealed, fleet.clock, lambda: fleet.applied, interval=0.05)
    done = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(refresher.run(stop))
        while refresher.passes < 4:
            await asyncio.sleep(0.02)
            fleet.clock.advance(hours=1)
        stop.set()
        await task
        done.set()

    asyncio.run(asyncio.wait_for(main(), timeout=60))
    assert done.is_set()
    assert fleet.row("DL00008")["end"] == date(2028, 3, 31)


def test_lookup_now_asks_even_about_fresh_serials(fleet, dell):
    from controller.warranty import lookup_now
    from schemas.fleet import WarrantySettings

    fleet.device("Dell Inc.", "DL00009")
    fleet.device("Dell Inc.", "DL00010")
    settings = WarrantySettings.model_validate(dell_settings(fleet, dell))
    first = lookup_now(fleet.store, settings, ["DL00009", "DL00010", "NOTINVENTORY"], sealed=fleet.sealed,
                       now=fleet.clock())
    again = lookup_now(fleet.store, settings, ["DL00009"], sealed=fleet.sealed, now=fleet.clock.advance(hours=1))
    assert (first.asked, first.found, again.asked) == ({"dell": 2}, 2, {"dell": 1})
    assert fleet.row("DL00009")["fetched_at"] == fleet.clock.now
    assert fleet.row("NOTINVENTORY") is None


def test_credentials_never_reach_the_log(fleet, dell, refresher, caplog):
    caplog.set_level("DEBUG")
    fleet.device("Dell Inc.", "DL00011")
    fleet.apply(dell_settings(fleet, dell, secret="s3cret-that-is-wrong"))
    refresher.refresh()
    fleet.apply(dell_settings(fleet, dell), revision="b" * 40)
    fleet.clock.advance(days=1)
    refresher.refresh()
    assert fleet.row("DL00011")["end"] is not None
    logged = caplog.text + " ".join(str(fleet.row("DL00011")))
    assert "refused the credentials" in caplog.text  # the failure was logged...
    for secret in ("s3cret-that-is-wrong", DELL_SECRET, DELL_ID):
        assert secret not in logged  # ...without any credential
