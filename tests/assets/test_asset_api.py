"""Inventory in, asset API out, over real HTTP on SQLite and PostgreSQL.

An agent (httpx speaking the agent protocol) reports hardware, software, licence keys
and neighbours; the operator API shows them per device, fleet-wide and as history,
scoped by client; licence keys stay masked unless an admin reveals one (audited).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import httpx
import pytest

from controller.store import list_audit
from tests.assets.conftest import ACME_SCANNING
from tests.support.gitrepos import commit
from tests.support.running import wait_until

PREFIX = "/api/agent/v1"
GiB = 1 << 30
PRODUCT_KEY = "VK7JG-NPHTM-C97JM-9MPGT-3V66T"

HARDWARE: dict[str, Any] = {
    "system": {"manufacturer": "Dell Inc.", "model": "Latitude 7440", "serial": "ABC1234",
               "bios_version": "1.12.0"},
    "cpus": [{"model": "13th Gen Intel(R) Core(TM) i7-1365U", "sockets": 1, "cores": 10, "threads": 12,
              "frequency_mhz": 1800}],
    "memory": {"total_bytes": 16 * GiB, "modules": [{"slot": "DIMM A", "size_bytes": 8 * GiB, "speed_mts": 5200},
                                                     {"slot": "DIMM B", "size_bytes": 8 * GiB, "speed_mts": 5200}]},
    "disks": [{"name": "nvme0n1", "model": "Samsung 980", "serial": "S1", "size_bytes": 512 * GiB, "type": "nvme"}],
    "volumes": [{"mount": "/", "filesystem": "ext4", "size_bytes": 500 * GiB, "free_bytes": 200 * GiB}],
    "interfaces": [{"name": "eth0", "mac": "AA-BB-CC-00-11-22", "ipv4": ["10.20.0.5"], "up": True}],
    "peripherals": [{"bus": "usb", "vendor_id": "046d", "product_id": "c52b", "vendor": "Logitech",
                     "product": "Unifying Receiver"}],
    "os": {"name": "Debian GNU/Linux", "version": "12", "kernel": "6.1.0-18-amd64", "arch": "x86_64"},
    "users": [{"name": "alice", "terminal": "tty1"}],
}


def _software(openssl: str = "3.0.11-1~deb12u2", extra: int = 20) -> list[dict[str, Any]]:
    items = [{"name": "openssl", "version": openssl, "source": "dpkg", "arch": "amd64", "publisher": "Debian"},
             {"name": "OpenSSH-Server", "version": "1:9.2p1-2", "source": "dpkg", "arch": "amd64"}]
    items += [{"name": f"lib{index:03d}", "version": f"1.{index}", "source": "dpkg", "arch": "amd64"}
              for index in range(extra)]
    return items


OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_agents():
    yield
    while OPEN:
        OPEN.pop().close()


class Agent:
    def __init__(self, running, client: str, hostname: str) -> None:
        token = running.enrolment_token(client)
        body = {"token": token, "facts": {"hostname": hostname, "os": "linux", "arch": "x86_64"}, "labels": {}}
        enrolled = httpx.post(f"{running.url}{PREFIX}/enroll", json=body, timeout=10).json()
        self.agent_id: str = enrolled["agent_id"]
        self.http = httpx.Client(base_url=f"{running.url}{PREFIX}", timeout=30,
                                 headers={"Authorization": f"Bearer {enrolled['credential']}"})
        OPEN.append(self.http)

    def report(self, **sections: Any) -> httpx.Response:
        hashes = {name: f"hash-of-{name}-{len(str(value))}" for name, value in sections.items()}
        return self.http.post("/inventory", json={"full": False, **sections, "hashes": hashes})


@pytest.fixture
def acme(running) -> Agent:
    agent = Agent(running, "acme", "web-01")
    response = agent.report(hardware=HARDWARE, software=_software(),
                            licenses=[{"product": "Windows 11 Pro", "key": PRODUCT_KEY, "channel": "OEM:DM",
                                       "status": "licensed"}],
                            network=[{"ip": "10.20.0.1", "mac": "00:11:22:33:44:55", "source": "gateway"},
                                     {"ip": "10.20.0.9", "mac": "00:1b:63:00:00:01", "hostname": "printer",
                                      "vendor": "Apple, Inc.", "source": "scan", "open_ports": [443, 22]}])
    assert response.status_code == 200, response.text
    assert set(response.json()["accepted"]) == {"hardware", "software", "licenses", "network"}
    return agent


def test_hardware_is_stored_and_served(running, acme):
    with running.api() as api:
        found = api.get(f"/api/agents/{acme.agent_id}/inventory/hardware").json()
    assert (found["manufacturer"], found["serial"], found["memory_bytes"], found["cpu_cores"]) == (
        "Dell Inc.", "ABC1234", 16 * GiB, 10)
    assert found["hardware"]["interfaces"][0]["mac"] == "AA-BB-CC-00-11-22"  # as the OS wrote it
    assert found["hardware"]["peripherals"][0]["product"] == "Unifying Receiver"


def test_software_filters_and_pages(running, acme):
    base = f"/api/agents/{acme.agent_id}/inventory/software"
    with running.api() as api:
        everything = api.get(base).json()
        ssl = api.get(base, params={"name": "OPEN"}).json()
        page = api.get(base, params={"name": "lib*", "limit": 5, "offset": 5}).json()
        by_publisher = api.get(base, params={"publisher": "debian"}).json()
        bad_source = api.get(base, params={"source": "nonsense"})
    assert everything["total"] == 22
    assert [item["name"] for item in ssl["items"]] == ["OpenSSH-Server", "openssl"]  # case-insensitive
    assert ssl["total"] == 2
    assert page["total"] == 20 and [item["name"] for item in page["items"]] == [
        "lib005", "lib006", "lib007", "lib008", "lib009"]
    assert [item["name"] for item in by_publisher["items"]] == ["openssl"]
    assert bad_source.status_code == 422


def test_licence_keys_are_masked_sealed_and_revealed_only_to_admins(running, acme, caplog):
    caplog.set_level(logging.DEBUG)
    base = f"/api/agents/{acme.agent_id}/inventory/licenses"
    with running.api() as api:
        listed = api.get(base).json()["items"]
        revealed = api.post(f"{base}/reveal", json={"product": "Windows 11 Pro"})
    assert listed == [{"product": "Windows 11 Pro", "channel": "OEM:DM", "status": "licensed",
                       "partial_key": "3V66T", "has_full_key": True, "updated_at": listed[0]["updated_at"]}]
    assert revealed.status_code == 200 and revealed.json()["key"] == PRODUCT_KEY
    assert revealed.headers["cache-control"] == "no-store"
    with running.api(running.token("operator")) as api:
        refused = api.post(f"{base}/reveal", json={"product": "Windows 11 Pro"})
    assert refused.status_code == 403
    with running.store.read() as session:
        stored = session.execute(__import__("sqlalchemy").text("select sealed_key from asset_license_keys")).scalar()
    assert stored.startswith("sealed:") and PRODUCT_KEY not in stored
    reveals = [entry for entry in list_audit(running.store, None) if entry.action == "license-key.reveal"]
    assert len(reveals) == 1 and PRODUCT_KEY not in str(reveals[0])
    assert PRODUCT_KEY not in caplog.text


def test_history_records_upgrades_removals_and_hardware_swaps(running, acme):
    swapped = copy.deepcopy(HARDWARE)
    swapped["memory"] = {"total_bytes": 8 * GiB, "modules": [{"slot": "DIMM A", "size_bytes": 8 * GiB}]}
    swapped["disks"] = [{"name": "nvme0n1", "model": "WD SN850", "serial": "S2", "size_bytes": 1024 * GiB}]
    swapped["volumes"][0]["free_bytes"] = 1  # volatile: not history
    software = [item for item in _software(openssl="3.0.13-1~deb12u1") if item["name"] != "lib007"]
    assert acme.report(hardware=swapped, software=software).status_code == 200
    with running.api() as api:
        items = api.get("/api/assets/history", params={"agent_id": acme.agent_id}).json()["items"]
        only_software = api.get("/api/assets/history", params={"section": "software", "limit": 1}).json()
    seen = {(item["section"], item["change"], item["item"], item["old"], item["new"]) for item in items}
    assert seen == {
        ("software", "upgraded", "openssl (amd64, dpkg)", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1"),
        ("software", "removed", "lib007 (amd64, dpkg)", "1.7", None),
        ("hardware", "changed", "memory total bytes", "16 GiB", "8 GiB"),
        ("hardware", "removed", "memory module", "8 GiB", None),
        ("hardware", "removed", "disk", "Samsung 980 512 GiB nvme0n1", None),
        ("hardware", "added", "disk", None, "WD SN850 1 TiB nvme0n1"),
    }
    assert all(item["hostname"] == "web-01" for item in items)
    assert len(only_software["items"]) == 1 and only_software["next_before_id"] is not None


def test_fleet_wide_software_search_by_version_range(running, acme):
    old = Agent(running, "acme", "old-01")
    other = Agent(running, "globex", "gx-01")
    old.report(software=_software(openssl="3.0.9-1"))
    other.report(software=_software(openssl="3.0.15-1"))
    with running.api() as api:
        fixed = api.get("/api/assets/software", params={"name": "OpenSSL", "min_version": "3.0.11"}).json()
        vulnerable = api.get("/api/assets/software", params={"name": "openssl", "max_version": "3.0.10"}).json()
        pattern = api.get("/api/assets/software", params={"name": "openss*"}).json()
        empty = api.get("/api/assets/software", params={"name": "*"})
    assert fixed["devices"] == 2 and {item["hostname"] for item in fixed["items"]} == {"web-01", "gx-01"}
    assert [item["hostname"] for item in vulnerable["items"]] == ["old-01"]
    assert pattern["devices"] == 3 and len(pattern["items"]) == 6  # openssl and openssh-server on each
    assert empty.status_code == 400
    with running.api(running.token("viewer", client="globex")) as api:
        scoped = api.get("/api/assets/software", params={"name": "openssl"}).json()
        forbidden = api.get("/api/assets/software", params={"name": "openssl", "client": "acme"})
        hidden = api.get(f"/api/agents/{acme.agent_id}/inventory/hardware")
    assert [item["client"] for item in scoped["items"]] == ["globex"]
    assert forbidden.status_code == 403 and hidden.status_code == 404


def test_network_devices_show_which_are_managed(running, acme):
    peer = Agent(running, "acme", "printer-host")
    peer_hardware = copy.deepcopy(HARDWARE)
    peer_hardware["interfaces"] = [{"name": "Ethernet", "mac": "00-1B-63-00-00-01"}]  # as Windows writes it
    peer.report(hardware=peer_hardware)
    acme.report(network=[{"ip": "10.20.0.9", "mac": "00:1b:63:00:00:01", "source": "neighbour"}])
    with running.api() as api:
        listed = api.get("/api/assets/network-discovered", params={"client": "acme"}).json()["items"]
        unmanaged = api.get("/api/assets/network-discovered", params={"unmanaged": "true"}).json()["items"]
    by_ip = {item["ip"]: item for item in listed}
    assert set(by_ip) == {"10.20.0.1", "10.20.0.9"}
    assert by_ip["10.20.0.9"]["managed_agent_id"] == peer.agent_id
    assert by_ip["10.20.0.9"]["source"] == "neighbour" and by_ip["10.20.0.9"]["first_seen"] < \
        by_ip["10.20.0.9"]["last_seen"]
    assert [item["ip"] for item in unmanaged] == ["10.20.0.1"]


@pytest.mark.parametrize(("section", "value", "field"), [
    pytest.param("hardware", {"memory": {"total_bytes": -1}}, "total_bytes", id="negative-memory"),
    pytest.param("hardware", {"cpus": [{"cores": 10**12}]}, "cores", id="absurd-core-count"),
    pytest.param("network", [{"ip": "999.1.1.1"}], "ip", id="not-an-ip"),
    pytest.param("network", [{"ip": "10.0.0.1", "mac": "zz"}], "mac", id="not-a-mac"),
    pytest.param("licenses", [{"product": "x", "key": "K" * 101}], "key", id="key-too-long"),
])
def test_malformed_inventory_is_422_naming_the_field(running, acme, section, value, field):
    response = acme.report(**{section: value})
    assert response.status_code == 422
    assert any(field in detail["loc"] for detail in response.json()["detail"])


def test_control_characters_are_stripped_not_rejected(running, acme):
    hardware = copy.deepcopy(HARDWARE)
    hardware["system"]["model"] = "Lati\x1b[31mtude\x00 7440"
    assert acme.report(hardware=hardware).status_code == 200
    with running.api() as api:
        found = api.get(f"/api/agents/{acme.agent_id}/inventory/hardware").json()
    assert found["model"] == "Lati[31mtude 7440"


def test_agent_config_follows_the_client_in_git(running, fleet_repo, acme):
    repo, _sha = fleet_repo
    before = acme.http.post("/checkin", json={"seen_seq": 0}).json()["config_version"]
    assert acme.http.get("/config").json()["discovery"]["active_cidrs"] == []
    sha = commit(repo, {"clients/acme/client.yaml": ACME_SCANNING}, "acme allows a scan")
    running.wait_applied(sha)
    after = wait_until(lambda: acme.http.post("/checkin", json={"seen_seq": 0}).json()["config_version"],
                       what="a config version")
    config = acme.http.get("/config").json()
    assert after != before and config["version"] == after
    assert config["discovery"] == {"active_cidrs": ["10.20.0.0/24"], "ports": [22, 443], "rate_per_second": 20}
    other = Agent(running, "globex", "gx-01")
    assert other.http.get("/config").json()["discovery"]["active_cidrs"] == []


def test_software_deltas_over_http(running, acme):
    accepted_hash = f"hash-of-software-{len(str(_software()))}"  # what Agent.report sent as the hash
    delta = {"base": accepted_hash, "removed": [{"name": "lib005", "version": "1.5", "source": "dpkg",
                                                 "arch": "amd64"}],
             "added": [{"name": "lib005", "version": "1.6", "source": "dpkg", "arch": "amd64"}]}
    applied = acme.http.post("/inventory", json={"full": False, "software_delta": delta,
                                                 "hashes": {"software": "after-delta"}})
    assert applied.json() == {"accepted": ["software"]}
    with running.api() as api:
        found = api.get(f"/api/agents/{acme.agent_id}/inventory/software", params={"name": "lib005"}).json()
    assert [item["version"] for item in found["items"]] == ["1.6"]
    stale = acme.http.post("/inventory", json={"full": False, "software_delta": {**delta, "base": "old"},
                                               "hashes": {"software": "later"}})
    assert stale.json() == {"accepted": []}
    running.controller.context.principals.forget([acme.agent_id])
    assert acme.http.post("/checkin", json={"seen_seq": 0}).json()["inventory"] == "full"


def test_a_report_naming_another_agent_is_refused_and_audited(running, acme):
    other = Agent(running, "acme", "web-02")
    response = acme.http.post("/inventory", json={"full": False, "agent_id": other.agent_id,
                                                  "software": [], "hashes": {"software": "x"}})
    assert response.status_code == 403 and other.agent_id in response.json()["message"]
    (entry,) = [row for row in list_audit(running.store, None) if row.action == "inventory.refused"]
    assert (entry.actor, entry.target) == (acme.agent_id, other.agent_id)
    with running.api() as api:
        kept = api.get(f"/api/agents/{acme.agent_id}/inventory/software").json()["total"]
    assert kept == 22  # the refused report stored nothing
    own = acme.http.post("/inventory", json={"full": False, "agent_id": acme.agent_id, "hashes": {}})
    assert own.status_code == 200
