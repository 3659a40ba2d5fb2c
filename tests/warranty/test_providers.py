"""Each vendor's lookup against a local server that answers and refuses as the vendor documents."""

from __future__ import annotations

import contextlib
import json
from datetime import date

import pytest

from controller.demo.fake_warranty import FakeDellApi, Scripted, dell_asset, json_reply
from controller.secrets import Secret
from controller.warranty import (
    VendorAnswerInvalid,
    VendorAuthFailed,
    VendorThrottled,
    VendorUnavailable,
    WarrantySetupError,
)
from controller.warranty.calling import MAX_RETRY_AFTER
from controller.warranty.dell import DellProvider
from controller.warranty.hp import HpProvider
from controller.warranty.lenovo import LenovoProvider
from tests.warranty.servers import FakeHpApi, FakeLenovoApi, hp_result, lenovo_record

DELL_ID, DELL_SECRET = "dell-client-id", "dell-client-secret"


@pytest.fixture
def opened():
    """Providers a test builds, closed (their HTTP connections with them) when it ends."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context


def dell_assets(count: int) -> dict[str, dict]:
    return {f"TAG{i:04d}": dell_asset(f"TAG{i:04d}", "Latitude 5440", [
        ("Basic Hardware Service", "2023-01-01", "2024-01-01", "INITIAL"),
        ("ProSupport Plus", "2023-01-01", f"{2026 + i % 3}-06-30", "EXTENDED")]) for i in range(count)}


@pytest.fixture
def dell():
    with FakeDellApi(DELL_ID, DELL_SECRET, dell_assets(150)) as server:
        yield server


def dell_provider(opened, server: FakeDellApi, *, secret: str = DELL_SECRET, timeout: float = 5.0) -> DellProvider:
    return opened(DellProvider(Secret(DELL_ID), Secret(secret), server.base_url, timeout=timeout))


def test_dell_lookup_summarises_entitlements(opened, dell):
    provider = dell_provider(opened, dell)
    results = provider.lookup(["TAG0001", "NOSUCH1"])
    found = results["TAG0001"]
    assert (found.found, found.model, found.start, found.end, found.service_level) == (
        True, "Latitude 5440", date(2023, 1, 1), date(2027, 6, 30), "ProSupport Plus")
    assert results["NOSUCH1"].found is False


def test_dell_batches_at_most_100_tags_and_keeps_its_token(opened, dell):
    provider = dell_provider(opened, dell)
    serials = [f"TAG{i:04d}" for i in range(150)]
    results = provider.lookup(serials)
    provider.lookup(["TAG0000"])
    assert all(results[s].found for s in serials)
    sizes = sorted(len(call.query["servicetags"][0].split(",")) for call in dell.api_calls())
    assert sizes == [1, 50, 100]
    assert dell.tokens_issued == 1


def test_dell_fetches_a_new_token_once_on_401(opened, dell):
    provider = dell_provider(opened, dell)
    provider.lookup(["TAG0001"])
    dell.revoke_tokens()
    assert provider.lookup(["TAG0002"])["TAG0002"].found
    assert dell.tokens_issued == 2


def test_dell_never_sends_a_tag_with_a_comma(opened, dell):
    results = dell_provider(opened, dell).lookup(["TAG0001,TAG0002", "TAG0003"])
    assert results["TAG0001,TAG0002"].found is False
    assert [call.query["servicetags"] for call in dell.api_calls()] == [["TAG0003"]]


def test_dell_bad_credentials_say_fix_fleet_yaml(opened, dell):
    with pytest.raises(VendorAuthFailed) as caught:
        dell_provider(opened, dell, secret="wrong").lookup(["TAG0001"])
    assert "fleet.yaml" in str(caught.value)
    assert "wrong" not in str(caught.value) and DELL_SECRET not in str(caught.value)
    assert dell.api_calls() == []


@pytest.mark.parametrize(("scripted", "error", "delay"), [
    pytest.param(json_reply(429, {"error": "slow down"}, {"Retry-After": "120"}), VendorThrottled, 120.0,
                 id="429-retry-after"),
    pytest.param(json_reply(429, {}, {"Retry-After": "999999"}), VendorThrottled, MAX_RETRY_AFTER,
                 id="429-retry-after-capped"),
    pytest.param(json_reply(503, {}, {"Retry-After": "30"}), VendorThrottled, 30.0, id="503-retry-after"),
    pytest.param(json_reply(500, {"error": "boom"}), VendorUnavailable, None, id="500"),
    pytest.param(Scripted(200, b"<html>maintenance</html>"), VendorAnswerInvalid, None, id="not-json"),
    pytest.param(Scripted(200, b'{"not": "a list"}'), VendorAnswerInvalid, None, id="wrong-shape"),
    pytest.param(Scripted(200, b"[" + b'"x",' * 2_000_000 + b'"x"]'), VendorAnswerInvalid, None, id="huge-body"),
])
def test_dell_failures_become_warranty_errors(opened, dell, scripted, error, delay):
    dell.script.append(scripted)
    with pytest.raises(error) as caught:
        dell_provider(opened, dell).lookup(["TAG0001"])
    if delay is not None:
        assert caught.value.asked_delay == delay


def test_dell_timeout_is_unavailable(opened, dell):
    dell.script.append(Scripted(200, b"[]", delay=1.5))
    with pytest.raises(VendorUnavailable, match="timed out"):
        dell_provider(opened, dell, timeout=0.3).lookup(["TAG0001"])


@pytest.mark.parametrize("base_url", ["http://warranty.example.com", "ftp://127.0.0.1", "http://10.0.0.5:8080"])
def test_plain_http_to_a_remote_host_is_refused(base_url):
    with pytest.raises(WarrantySetupError, match=r"fleet\.yaml"):
        DellProvider(Secret("a"), Secret("b"), base_url)


LENOVO_ID = "lenovo-client-id"


@pytest.fixture
def lenovo():
    records = {f"PF{i:06d}": lenovo_record(f"PF{i:06d}", "20XW-004XGE", [
        ("Base Warranty", "2023-01-10", "2026-01-09", "BASE"),
        ("Premier Support", "2023-01-10", f"{2026 + i % 2}-03-31", "UPGRADE")]) for i in range(60)}
    with FakeLenovoApi(LENOVO_ID, records) as server:
        yield server


def test_lenovo_lookup_posts_batches_with_the_client_id(opened, lenovo):
    provider = opened(LenovoProvider(Secret(LENOVO_ID), lenovo.base_url))
    serials = [f"PF{i:06d}" for i in range(60)] + ["UNKNOWN1"]
    results = provider.lookup(serials)
    assert results["PF000001"].end == date(2027, 3, 31)
    assert results["PF000001"].service_level == "Premier Support"
    assert results["UNKNOWN1"].found is False
    posts = [r for r in lenovo.requests if r.method == "POST"]
    assert sorted(len(r.body.decode().split("%2C")) for r in posts) == [11, 50]


def test_lenovo_single_serial_answer_is_an_object(opened, lenovo):
    assert opened(LenovoProvider(Secret(LENOVO_ID), lenovo.base_url)).lookup(["PF000002"])["PF000002"].found


def test_lenovo_wrong_client_id_is_an_auth_failure(opened, lenovo):
    with pytest.raises(VendorAuthFailed):
        opened(LenovoProvider(Secret("nope"), lenovo.base_url)).lookup(["PF000002"])


HP_KEY, HP_SECRET = "hp-key", "hp-secret"


@pytest.fixture
def hp():
    products = {"5CG1234ABC": hp_result("5CG1234ABC", "HP EliteBook 840 G8", [
        ("HP Support for Initial Setup", "2022-02-01", "2022-05-01"),
        ("Wty: HP HW Maintenance Onsite Support", "2022-02-01", "2025-01-31")])}
    with FakeHpApi(HP_KEY, HP_SECRET, products, polls_before_done=3) as server:
        yield server


def test_hp_runs_a_job_and_reads_its_results(opened, hp):
    pauses: list[float] = []
    provider = opened(HpProvider(Secret(HP_KEY), Secret(HP_SECRET), hp.base_url, sleep=pauses.append))
    results = provider.lookup(["5CG1234ABC", "5CGNOTKNOWN"])
    assert (results["5CG1234ABC"].end, results["5CG1234ABC"].model) == (date(2025, 1, 31), "HP EliteBook 840 G8")
    assert results["5CGNOTKNOWN"].found is False
    (job,) = hp.jobs.values()
    assert (sorted(job["serials"]), job["polls"], len(pauses)) == (["5CG1234ABC", "5CGNOTKNOWN"], 3, 3)
    created = next(r for r in hp.requests if r.method == "POST" and r.path == hp.JOBS_PATH)
    assert json.loads(created.body) == [{"sn": "5CG1234ABC"}, {"sn": "5CGNOTKNOWN"}]


def test_hp_job_that_never_finishes_is_unavailable(opened, hp):
    hp.polls_before_done = 10**6
    ticks = iter(range(0, 10**6, 50))
    provider = opened(HpProvider(Secret(HP_KEY), Secret(HP_SECRET), hp.base_url, sleep=lambda _s: None,
                                 clock=lambda: float(next(ticks)), max_job_wait=120))
    with pytest.raises(VendorUnavailable, match="did not finish"):
        provider.lookup(["5CG1234ABC"])


def test_hp_wrong_secret_is_an_auth_failure(opened, hp):
    with pytest.raises(VendorAuthFailed):
        opened(HpProvider(Secret(HP_KEY), Secret("bad"), hp.base_url, sleep=lambda _s: None)).lookup(["5CG1234ABC"])


def test_hp_job_that_fails_is_unavailable(opened, hp):
    hp.polls_before_done = 10**6
    hp.script.extend([json_reply(200, {"jobId": "j1", "estimatedTime": 0}),
                      json_reply(200, {"status": "failed", "estimatedTime": 0})])
    provider = opened(HpProvider(Secret(HP_KEY), Secret(HP_SECRET), hp.base_url, sleep=lambda _s: None))
    with pytest.raises(VendorUnavailable, match="ended as 'failed'"):
        provider.lookup(["5CG1234ABC"])
