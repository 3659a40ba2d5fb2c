"""Licence compliance from installed software: seats used, over-deployment, expiry, alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from controller.licensing import Install, compliance, like_pattern, refresh_licences
from controller.store import Store, create_enrollment_token, enroll_agent, list_alerts
from controller.store.tables import asset_licenses, managed_software, software_inventory
from schemas.protocol import Facts
from tests.support.resources import desired, resource

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def licence(name: str = "office", seats: int = 2, software: str | None = "Microsoft 365*",
            expires: date | None = None):
    spec: dict = {"product": "Microsoft 365", "vendor": "Microsoft", "seats": seats}
    if software is not None:
        spec["consumedBy"] = {"softwareName": software}
    if expires is not None:
        spec["expires"] = expires.isoformat()
    return resource("License", name, spec)


def loaded(res, scope="acme"):
    return next(iter(desired([(scope, res)]).of_kind(type(res)).values()))


def installs(*hosts: str) -> list[Install]:
    return [Install(f"a_{h}", "acme", h, "Microsoft 365 Apps") for h in hosts]


@pytest.mark.parametrize(("seats", "hosts", "expires", "states"), [
    pytest.param(2, ("a", "b"), None, (), id="within-seats"),
    pytest.param(1, ("a", "b"), None, ("over-deployed",), id="over-deployed"),
    pytest.param(5, ("a",), NOW.date() + timedelta(days=45), ("expiring",), id="expiring"),
    pytest.param(5, ("a",), NOW.date() - timedelta(days=1), ("expired",), id="expired"),
    pytest.param(5, (), None, ("unmatched",), id="rule-matches-nothing"),
])
def test_states(seats, hosts, expires, states):
    result = compliance(loaded(licence(seats=seats, expires=expires)), installs(*hosts), NOW.date())
    assert result.states == states
    assert result.used == len(hosts)


def test_a_device_with_two_matching_apps_uses_one_seat():
    result = compliance(loaded(licence()), [*installs("a"), Install("a_a", "acme", "a", "Microsoft 365 Teams")],
                        NOW.date())
    assert result.used == 1


def test_two_devices_with_the_same_hostname_use_two_seats():
    same = [Install("a_1", "acme", "vm", "Microsoft 365 Apps"), Install("a_2", "acme", "vm", "Microsoft 365 Apps")]
    result = compliance(loaded(licence(seats=1)), same, NOW.date())
    assert result.devices == ("vm (a_1)", "vm (a_2)") and "over-deployed" in result.states


def test_like_pattern_escapes_sql_wildcards():
    assert like_pattern("100%_Pure*") == "100\\%\\_pure%"


def _agent(store, client, host):
    token = create_enrollment_token(store, client, created_by="t", now=NOW)
    return enroll_agent(store, token, Facts(hostname=host, os="linux"), {}, NOW).agent_id


def test_refresh_counts_per_client_writes_compliance_and_alerts(database_url):
    store = Store.open(database_url)
    try:
        rows = []
        for client, host, name in (("acme", "a1", "Microsoft 365 Apps"), ("acme", "a2", "microsoft 365 apps"),
                                   ("acme", "a3", "LibreOffice"), ("globex", "g1", "Microsoft 365 Apps")):
            rows.append({"agent_id": _agent(store, client, host), "client": client, "name": name,
                         "name_key": name.lower(), "version": "1",
                         "source": "other", "arch": "", "publisher": "", "updated_at": NOW})
        with store.write() as session:
            session.execute(insert(software_inventory), rows)
        state = desired([("acme", licence(seats=1, expires=NOW.date() + timedelta(days=20)))])
        (result,) = refresh_licences(store, state, NOW)
        assert (result.used, result.devices) == (2, ("a1", "a2"))  # globex's install is not acme's seat
        with store.read() as session:
            (row,) = session.execute(asset_licenses.select()).mappings().all()
        assert (row["seats_used"], row["state"]) == (2, "over-deployed")
        alerts = {a.type: a for a in list_alerts(store, "acme", state="open")}
        assert alerts["license.over-deployed"].severity == "critical"
        assert alerts["license.expiring"].severity == "critical"  # 20 days left
        # Seats bought, renewed: both alerts clear.
        fixed = desired([("acme", licence(seats=5, expires=NOW.date() + timedelta(days=400)))])
        refresh_licences(store, fixed, NOW)
        assert list_alerts(store, "acme", state="open") == []
    finally:
        store.close()


def test_validate_warns_about_a_rule_that_matches_nothing(tmp_path, database_url):
    import subprocess
    import sys

    from tests.support.fleets import ACME_CLIENT
    from tests.support.gitrepos import write_files

    Store.open(database_url).close()
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "clients/acme/licences.yaml": (
        "apiVersion: fleetward/v1\nkind: License\nmetadata: {name: cad}\n"
        "spec: {product: Acme CAD, seats: 3, consumedBy: {softwareName: 'Acme CAD*'}}\n")})
    done = subprocess.run([sys.executable, "-m", "controller.cli.main", "validate", str(tmp_path), "--db",
                           database_url], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert ("warning: clients/acme/licences.yaml:1:1: consumedBy 'Acme CAD*' matches no software installed on "
            "the devices of clients/acme/; the licence counts no seats") in done.stderr


def test_packages_fleetward_installed_consume_seats_once_per_device(database_url):
    store = Store.open(database_url)
    try:
        first, second = _agent(store, "acme", "w1"), _agent(store, "acme", "w2")
        with store.write() as session:
            session.execute(insert(managed_software), [
                {"agent_id": agent, "package": "hello-tool", "client": "acme", "version": "1.0.0", "sha256": "",
                 "installed_at": NOW, "reported_at": NOW} for agent in (first, second)])
            session.execute(insert(software_inventory), [{
                "agent_id": first, "client": "acme", "name": "Hello-Tool", "name_key": "hello-tool", "version": "1",
                "source": "dpkg", "arch": "", "publisher": "", "updated_at": NOW}])
        (result,) = refresh_licences(store, desired([("acme", licence(seats=1, software="hello-tool"))]), NOW)
        assert (result.used, result.devices) == (2, ("w1", "w2"))
        assert [alert.type for alert in list_alerts(store, "acme", state="open")] == ["license.over-deployed"]
    finally:
        store.close()
