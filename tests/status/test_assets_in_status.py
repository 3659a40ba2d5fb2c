"""The status branch shows hardware and software per device, licences and expiring warranties per client."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ruamel.yaml import YAML
from sqlalchemy import insert

from controller.licensing import refresh_licences
from controller.reconciling import SourceHealth
from controller.status.collecting import collect_snapshot
from controller.status.rendering import render_status
from controller.store import Store, create_enrollment_token, enroll_agent
from controller.store.tables import asset_warranties, hardware_inventory, software_inventory
from schemas.protocol import Facts
from tests.support.resources import client, desired, resource

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_assets_appear_in_client_and_device_reports(database_url):
    store = Store.open(database_url)
    try:
        token = create_enrollment_token(store, "acme", created_by="t", now=NOW)
        agent_id = enroll_agent(store, token, Facts(hostname="web-01", os="linux"), {}, NOW).agent_id
        with store.write() as session:
            session.execute(insert(hardware_inventory).values(
                agent_id=agent_id, client="acme", manufacturer="Dell Inc.", model="Latitude 5440", serial="7XK2Q93",
                cpu_model="Intel Core i5-1345U", cpu_cores=10, memory_bytes=16 * 2**30, disk_bytes=512 * 10**9,
                os_name="Debian GNU/Linux", os_version="12", data={}, updated_at=NOW))
            session.execute(insert(software_inventory), [
                {"agent_id": agent_id, "client": "acme", "name": name, "name_key": name.lower(), "version": "1",
                 "source": "dpkg", "arch": "", "publisher": "", "updated_at": NOW}
                for name in ("git", "curl", "Acme CAD 2026")])
            session.execute(insert(asset_warranties).values(
                serial="7XK2Q93", vendor="Dell", source="dell", model="Latitude 5440", start=date(2023, 1, 5),
                end=(NOW + timedelta(days=40)).date(), service_level="ProSupport", data={}, fetched_at=NOW,
                fresh_until=NOW + timedelta(days=30), next_attempt_at=NOW + timedelta(minutes=5),
                last_error="Dell answered 429 Too Many Requests; retried after 300 s"))
        state = desired([(None, client("acme")), ("acme", resource("License", "cad", {
            "product": "Acme CAD", "seats": 0, "consumedBy": {"softwareName": "Acme CAD*"}}))])
        refresh_licences(store, state, NOW)
        snapshot = collect_snapshot(store, state, SourceHealth(ok=True), NOW, online_window=180)
    finally:
        store.close()
    files = render_status(snapshot)
    page = files["clients/acme.md"].decode()
    assert "| `acme.cad` | Acme CAD | 1 / 0 | over-deployed |" in page
    assert "| web-01 | 7XK2Q93 | Dell | " in page and "| 40 |" in page
    # The lookup's last failure shows; the cached answer above still counts.
    assert "| web-01 | 7XK2Q93 | Dell answered 429 Too Many Requests; retried after 300 s |" in page
    (device_path,) = [path for path in files if path.startswith("devices/acme/")]
    device = YAML(typ="safe").load(files[device_path])
    assert device["hardware"]["model"] == "Latitude 5440"
    assert device["hardware"]["memory"] == "16.0 GiB"
    assert device["installedSoftware"] == 3
