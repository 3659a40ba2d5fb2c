"""GET /api/assets/warranty/{serial}: the record, tenant scoping, hints on 404, ?refresh=true, and the wiring
through a served controller."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import insert

from controller.api.app import create_app
from controller.api.context import ApiContext
from controller.demo.fake_warranty import FakeDellApi, dell_asset, json_reply
from controller.jobs.signing import JobSigner
from controller.secrets import KeyFolder, seal
from controller.settings import ControllerSettings
from controller.store import create_api_token, enroll_agent
from controller.store.tables import hardware_inventory
from controller.warranty import WarrantyRefresher
from schemas.protocol import Facts
from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller, serve_app, wait_until
from tests.warranty.conftest import NOW


@pytest.fixture
def dell():
    assets = {"AP00001": dell_asset("AP00001", "Precision 3581", [
        ("Basic Hardware", "2024-02-01", "2025-02-01", "INITIAL"),
        ("ProSupport Flex", "2024-02-01", (NOW.date() + timedelta(days=45)).isoformat(), "EXTENDED")])}
    with FakeDellApi("id", "secret", assets) as server:
        yield server


@pytest.fixture
def api(fleet, dell, tmp_path):
    """The operator API on a real port, with the fleet's store and a warranty refresher."""
    fleet.device("Dell Inc.", "AP00001", client="acme", hostname="acme-ws")
    fleet.device("Dell Inc.", "GX00001", client="globex", hostname="globex-ws")
    fleet.device("Dell Inc.", "Default string", client="acme")
    fleet.apply({"dell": {"clientId": fleet.seal("id"), "clientSecret": fleet.seal("secret"),
                          "baseUrl": dell.base_url}},
                records=[("globex", {"serial": "MANUAL01", "vendor": "Fujitsu", "end": "2030-01-01"})])
    refresher = WarrantyRefresher(fleet.store, fleet.sealed, fleet.clock, lambda: fleet.applied)
    context = ApiContext(store=fleet.store, signer=JobSigner.load_or_create(tmp_path / "signing"),
                         settings=ControllerSettings(data_dir=tmp_path), clock=fleet.clock)
    app = create_app(context)
    app.state.warranty = refresher

    def client(role: str = "admin", scope: str | None = None) -> httpx.Client:
        token = create_api_token(fleet.store, name="t", role=role, client=scope, now=NOW)
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    with serve_app(app) as url:
        yield client, refresher
    refresher.close()


def test_the_record_with_days_left_and_freshness(fleet, api):
    client, refresher = api
    refresher.refresh()
    with client("viewer") as http:
        body = http.get("/api/assets/warranty/AP00001").json()
    assert (body["vendor"], body["source"], body["found"], body["service_level"], body["days_left"]) == (
        "dell", "dell", True, "ProSupport Flex", 45)
    assert body["end"] == (NOW.date() + timedelta(days=45)).isoformat()
    assert [c["name"] for c in body["coverages"]] == ["Basic Hardware", "ProSupport Flex"]
    assert body["devices"] == [{"agent_id": body["devices"][0]["agent_id"], "client": "acme", "hostname": "acme-ws"}]
    assert body["fresh_until"].startswith((NOW + timedelta(days=30)).date().isoformat())
    assert (body["last_error"], body["next_attempt_at"]) == ("", None)


def test_a_client_token_sees_only_its_own_serials(fleet, api):
    client, refresher = api
    refresher.refresh()
    with client("viewer", "globex") as http:
        hidden = http.get("/api/assets/warranty/AP00001")
        nobody = http.get("/api/assets/warranty/NOPE0001")
        manual = http.get("/api/assets/warranty/MANUAL01")
    with client("viewer", "acme") as http:
        own = http.get("/api/assets/warranty/AP00001")
        other_manual = http.get("/api/assets/warranty/MANUAL01")
    assert (hidden.status_code, own.status_code, manual.status_code, other_manual.status_code) == (
        404, 200, 200, 404)
    assert hidden.json()["message"] == nobody.json()["message"].replace("NOPE0001", "AP00001")  # no probing
    assert manual.json()["source"] == "manual"
    assert manual.json()["manual_record"] == "Warranty globex.w0 (clients/globex/warrantys.yaml:1:1)"


@pytest.mark.parametrize(("serial", "hint"), [
    pytest.param("NOPE0001", "no device", id="nobody-has-it"),
    pytest.param("AP00001", "?refresh=true", id="not-looked-up-yet"),
    pytest.param("Default string", "placeholder", id="placeholder"),
])
def test_unknown_serials_are_404_with_a_hint(api, serial, hint):
    client, _ = api
    with client() as http:
        response = http.get(f"/api/assets/warranty/{serial}")
    assert response.status_code == 404
    assert response.json()["code"] == "warranty_not_found" and hint in response.json()["message"]


def test_refresh_asks_the_vendor_now_and_shows_errors(fleet, api, dell):
    client, _ = api
    with client("viewer") as http:
        assert http.get("/api/assets/warranty/AP00001?refresh=true").status_code == 403
    with client("operator") as http:
        assert http.get("/api/assets/warranty/AP00001?refresh=true").json()["found"] is True
        dell.script.append(json_reply(429, {}, {"Retry-After": "600"}))
        body = http.get("/api/assets/warranty/AP00001?refresh=true").json()
    assert "rate limited" in body["last_error"]
    assert body["end"] == (NOW.date() + timedelta(days=45)).isoformat()  # the cached answer stays
    assert body["next_attempt_at"].startswith((NOW + timedelta(seconds=600)).isoformat()[:19])


def test_refresh_of_another_clients_serial_asks_nobody(fleet, api, dell):
    client, _ = api
    with client("operator", "globex") as http:
        assert http.get("/api/assets/warranty/AP00001?refresh=true").status_code == 404
    assert dell.requests == []


def test_an_overlong_serial_is_refused(api):
    client, _ = api
    with client() as http:
        assert http.get("/api/assets/warranty/" + "A" * 101).status_code == 422


FLEET_YAML = """\
apiVersion: fleetward/v1
kind: Fleet
metadata: {{name: msp}}
spec:
  warranty:
    dell: {{clientId: "{client_id}", clientSecret: "{secret}", baseUrl: "{base}"}}
"""


def test_a_served_controller_refreshes_warranties_in_the_background(tmp_path, database_url, dell):
    data_dir = tmp_path / "controller"
    key = KeyFolder(data_dir / "keys").ensure().sealing_key  # the controller opens what is sealed to it
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, {"clients/acme/client.yaml": ACME_CLIENT, "fleet.yaml": FLEET_YAML.format(
        client_id=seal("id", key), secret=seal("secret", key), base=dell.base_url)}, "fleet with Dell warranty")
    with run_controller(str(repo), data_dir, database_url, warranty_interval=0.2) as running:
        running.wait_applied(sha)
        agent = enroll_agent(running.store, running.enrolment_token("acme"), Facts(hostname="ws1", os="windows"),
                             {}, NOW).agent_id
        with running.store.write() as session:
            session.execute(insert(hardware_inventory).values(
                agent_id=agent, client="acme", manufacturer="Dell Inc.", model="Precision", serial="AP00001",
                cpu_model="", cpu_cores=1, memory_bytes=1, disk_bytes=1, os_name="", os_version="", data={},
                updated_at=NOW))
        with running.api() as http:
            response = wait_until(lambda: (r := http.get("/api/assets/warranty/AP00001")).status_code == 200 and r,
                                  timeout=20, what="the background warranty lookup")
    assert (response.json()["source"], response.json()["service_level"]) == ("dell", "ProSupport Flex")
    assert [call.query["servicetags"] for call in dell.api_calls()] == [["AP00001"]]
