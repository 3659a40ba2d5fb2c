"""Monitor settings per device: Fleet defaults, then the client, then its MSP-wide groups, then its
client's groups; two groups of one layer disagreeing on a field is a conflict where neither applies.
End to end: an agent's config (and its version) follow the groups it is in."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from controller.agent_config import effective_monitors, monitor_groups
from controller.desired import DesiredState
from schemas.fleet import FleetSpec
from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import commit, init_repo
from tests.support.resources import client, desired, resource
from tests.support.running import RunningController, run_controller, wait_until

PREFIX = "/api/agent/v1"
SERVER = {"os": "linux", "role": "server", "hostname": "db-01", "client": "acme"}
FLEET = FleetSpec.model_validate({"defaults": {"monitors": {"disk": {"warningFreePercent": 12},
                                                            "agentOffline": {"afterMinutes": 60}}}})


def _group(name: str, monitors: dict[str, Any], labels: dict[str, str] | None = None) -> Any:
    return resource("DeviceGroup", name, {"selector": {"matchLabels": labels or {"role": "server"}},
                                          "monitors": monitors})


def _state(*groups: tuple[str | None, Any], client_monitors: dict[str, Any] | None = None) -> DesiredState:
    acme = client("acme")
    if client_monitors is not None:
        acme = acme.model_validate({**acme.model_dump(by_alias=True),
                                    "spec": {**acme.model_dump(by_alias=True)["spec"], "monitors": client_monitors}})
    return dataclasses.replace(desired([("acme", acme), *groups]), fleet=FLEET)


def _effective(state: DesiredState, labels: dict[str, str] = SERVER) -> Any:
    return effective_monitors(state, "acme", monitor_groups(state, "acme", labels, "a_x"))


def test_layers_apply_in_order_each_setting_only_its_fields() -> None:
    state = _state((None, _group("msp-servers", {"disk": {"warningFreePercent": 20}, "cpu": {"minutes": 30}})),
                   ("acme", _group("acme-servers", {"disk": {"warningFreePercent": 25}})),
                   client_monitors={"disk": {"warningFreePercent": 15}, "services": {"required": ["ssh"]}})
    server = _effective(state)
    assert not server.conflicts and not server.problems
    assert server.settings.disk.warning_free_percent == 25  # the client's own group is the last layer
    assert server.settings.cpu.minutes == 30  # from the MSP-wide group
    assert server.settings.services.required == ["ssh"]  # from the client
    assert server.settings.agent_offline.after_minutes == 60  # from the Fleet
    laptop = _effective(state, {**SERVER, "role": "laptop"})
    assert laptop.settings.disk.warning_free_percent == 15 and laptop.settings.cpu.minutes == 10


def test_another_clients_groups_never_apply() -> None:
    state = _state(("globex", _group("servers", {"cpu": {"minutes": 99}})), ("globex", client("globex")))
    assert monitor_groups(state, "acme", SERVER, "a_x") == ()


def test_two_groups_of_one_layer_disagreeing_is_a_conflict_where_neither_applies() -> None:
    state = _state((None, _group("a-linux", {"disk": {"warningFreePercent": 20}, "cpu": {"minutes": 5}},
                                 labels={"os": "linux"})),
                   (None, _group("b-servers", {"disk": {"warningFreePercent": 30},
                                               "memory": {"minutes": 7}})),
                   client_monitors={"disk": {"warningFreePercent": 15}})
    found = _effective(state)
    assert found.settings.disk.warning_free_percent == 15  # the client's value stays
    assert (found.settings.cpu.minutes, found.settings.memory.minutes) == (5, 7)  # the rest of both applies
    (conflict,) = found.conflicts
    assert conflict.field == "disk.warningFreePercent"
    assert str(conflict) == ("monitors.disk.warningFreePercent differs between DeviceGroup a-linux "
                             "(devicegroups.yaml:2:1) and DeviceGroup b-servers (devicegroups.yaml:3:1); "
                             "neither applies")
    # Renaming the groups (their sort order) changes nothing.
    renamed = _state((None, _group("z-linux", {"disk": {"warningFreePercent": 20}}, labels={"os": "linux"})),
                     (None, _group("b-servers", {"disk": {"warningFreePercent": 30}})),
                     client_monitors={"disk": {"warningFreePercent": 15}})
    assert _effective(renamed).settings.disk.warning_free_percent == 15


def test_groups_that_agree_are_no_conflict_and_layers_do_not_conflict_with_each_other() -> None:
    state = _state((None, _group("a", {"services": {"required": ["ssh"]}}, labels={"os": "linux"})),
                   (None, _group("b", {"services": {"required": ["ssh"]}})),
                   ("acme", _group("c", {"services": {"required": ["ssh", "cron"]}})))
    found = _effective(state)
    assert not found.conflicts and found.settings.services.required == ["ssh", "cron"]


def test_a_layer_that_does_not_combine_is_skipped_and_said() -> None:
    # Valid alone (critical 8 < the default warning 10), but not above the client's warning of 6.
    state = _state((None, _group("servers", {"disk": {"criticalFreePercent": 8}})),
                   client_monitors={"disk": {"warningFreePercent": 6, "criticalFreePercent": 3}})
    found = _effective(state)
    assert found.settings.disk.critical_free_percent == 3
    (problem,) = found.problems
    assert "DeviceGroup servers (devicegroups.yaml:2:1)" in problem and "criticalFreePercent" in problem


GROUPS = """\
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: servers}
spec:
  selector: {matchLabels: {role: server}}
  monitors:
    disk: {warningFreePercent: PERCENT}
"""


@pytest.fixture
def served(tmp_path: Any, database_url: str) -> Iterator[tuple[RunningController, Any]]:
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, {"clients/acme/client.yaml": ACME_CLIENT,
                        "clients/acme/groups.yaml": GROUPS.replace("PERCENT", "20")})
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        yield running, repo


def _enrol(running: RunningController, hostname: str, labels: dict[str, str]) -> httpx.Client:
    body = {"token": running.enrolment_token("acme"),
            "facts": {"hostname": hostname, "os": "linux", "arch": "x86_64"}, "labels": labels}
    enrolled = httpx.post(f"{running.url}{PREFIX}/enroll", json=body, timeout=10).json()
    return httpx.Client(base_url=f"{running.url}{PREFIX}", timeout=30,
                        headers={"Authorization": f"Bearer {enrolled['credential']}"})


def test_an_agents_config_follows_its_groups_and_its_version_changes_with_them(
        served: tuple[RunningController, Any]) -> None:
    running, repo = served
    with _enrol(running, "db-01", {"role": "server"}) as server, _enrol(running, "pc-01", {}) as laptop:
        def version(agent: httpx.Client) -> str:
            return str(agent.post("/checkin", json={"seen_seq": 0}).json()["config_version"])

        before = {"server": version(server), "laptop": version(laptop)}
        assert before["server"] != before["laptop"]
        assert server.get("/config").json()["monitors"]["disk"]["warningFreePercent"] == 20
        assert laptop.get("/config").json()["monitors"]["disk"]["warningFreePercent"] == 10
        sha = commit(repo, {"clients/acme/groups.yaml": GROUPS.replace("PERCENT", "25")})
        running.wait_applied(sha)
        wait_until(lambda: version(server) != before["server"])
        assert version(laptop) == before["laptop"]  # not in the group: nothing to refetch
        assert server.get("/config").json()["monitors"]["disk"]["warningFreePercent"] == 25
