"""The controller's agent config: fetched on a new version, kept in the data dir, handed to the
network collector; a discovery change rescans the network section."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.connection import ControllerConnection
from agent.cycle import run_once
from agent.errors import CredentialRejected, ProtocolError
from agent.inventory import Collectors
from agent.settings import AgentSettings
from agent.state import DataDir
from schemas.inventory import AgentConfig, DiscoverySettings, HardwareInventory, NetworkNeighbour
from tests.agent.builders import NOW
from tests.agent.collectors import FACTS
from tests.agent.servers import StubController, error

CONFIG = {"version": "cfg-1", "discovery": {"active_cidrs": ["192.0.2.0/28"], "ports": [22, 443],
                                            "rate_per_second": 5},
          "inventory": {"full_every_hours": 12}}


class NetworkSpy:
    """The network collector, recording the settings it was given."""

    def __init__(self) -> None:
        self.calls: list[DiscoverySettings] = []

    def __call__(self, settings: DiscoverySettings) -> list[NetworkNeighbour]:
        self.calls.append(settings)
        return [NetworkNeighbour(ip=f"192.0.2.{len(settings.active_cidrs) + 1}")]


def _collectors(network: NetworkSpy) -> Collectors:
    return Collectors(facts=lambda: FACTS, software=lambda _effort: [], hardware=HardwareInventory,
                      licenses=list, network=network)


def test_get_config_sends_the_credential_and_parses_the_answer(enrolled: DataDir,
                                                               controller: StubController) -> None:
    controller.config = CONFIG
    with ControllerConnection(controller.base, credential=controller.credential) as connection:
        config = connection.get_config()
    assert config == AgentConfig.model_validate(CONFIG)
    ((path, headers, body),) = controller.requests
    assert (path, headers["authorization"], body) == ("/config", f"Bearer {controller.credential}", None)


@pytest.mark.parametrize(("canned", "expected"), [
    pytest.param(error(401, "unauthorized", "no"), CredentialRejected, id="credential-rejected"),
    pytest.param(error(200, "x", "not a config"), ProtocolError, id="not-a-config"),
])
def test_get_config_failures_map_onto_the_error_tree(controller: StubController, canned: object,
                                                     expected: type[Exception]) -> None:
    controller.overrides["/config"] = [canned]  # type: ignore[list-item]
    with ControllerConnection(controller.base, credential=controller.credential) as connection, \
            pytest.raises(expected, match=r"GET /config|credential"):
        connection.get_config()


def test_get_config_answers_are_capped(controller: StubController) -> None:
    controller.config = CONFIG | {"version": "v" * 5000}
    with ControllerConnection(controller.base, credential=controller.credential,
                              max_response_bytes=1000) as connection, \
            pytest.raises(ProtocolError, match="1000"):
        connection.get_config()


def test_a_new_version_is_fetched_kept_and_given_to_the_network_collector(
        enrolled: DataDir, settings: AgentSettings, controller: StubController) -> None:
    network = NetworkSpy()
    controller.config = CONFIG
    first = run_once(settings, clock=lambda: NOW, collectors=_collectors(network))
    assert (first.config_version, first.config_fetched) == ("cfg-1", True)
    assert enrolled.load_controller_config() == AgentConfig.model_validate(CONFIG)
    assert network.calls == [DiscoverySettings(active_cidrs=["192.0.2.0/28"], ports=[22, 443], rate_per_second=5)]

    second = run_once(settings, clock=lambda: NOW, collectors=_collectors(network))
    assert not second.config_fetched and second.config_version == "cfg-1"
    assert [path for path, _h, _b in controller.requests].count("/config") == 1  # the held version is reused


def test_a_discovery_change_rescans_only_the_network_section(enrolled: DataDir, settings: AgentSettings,
                                                             controller: StubController) -> None:
    network = NetworkSpy()
    controller.config = CONFIG
    run_once(settings, clock=lambda: NOW, collectors=_collectors(network))
    # Nothing is due (no rescan, no full report): only the new discovery settings trigger a collection.
    wider = {"active_cidrs": ["192.0.2.0/28", "198.51.100.0/29"]}
    controller.config = CONFIG | {"version": "cfg-2", "discovery": wider}
    report = run_once(settings, clock=lambda: NOW, collectors=_collectors(network))
    assert report.config_fetched and report.config_version == "cfg-2"
    assert network.calls[-1].active_cidrs == ["192.0.2.0/28", "198.51.100.0/29"]
    assert report.inventory_sent == ["network"] and not report.inventory_full
    assert controller.calls("/inventory")[-1]["network"] == [{"ip": "192.0.2.3", "mac": None, "hostname": "",
                                                             "vendor": "", "interface": "", "source": "neighbour",
                                                             "open_ports": []}]


def test_a_version_bump_without_a_discovery_change_collects_nothing(enrolled: DataDir, settings: AgentSettings,
                                                                   controller: StubController) -> None:
    network = NetworkSpy()
    controller.config = CONFIG
    run_once(settings, clock=lambda: NOW, collectors=_collectors(network))
    controller.config = CONFIG | {"version": "cfg-3"}
    report = run_once(settings, clock=lambda: NOW, collectors=_collectors(network))
    assert report.config_fetched and report.inventory_sent == [] and len(network.calls) == 1


def test_a_controller_without_config_keeps_the_agent_working(enrolled: DataDir, settings: AgentSettings,
                                                             controller: StubController,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    controller.config = CONFIG
    controller.overrides["/config"] = [error(404, "not_found", "no such endpoint")]
    network = NetworkSpy()
    report = run_once(settings, clock=lambda: NOW, collectors=_collectors(network))
    assert not report.config_fetched and report.inventory_sent  # jobs and inventory went on
    assert network.calls == [DiscoverySettings()]  # the defaults: passive discovery only
    assert "could not fetch the controller's config version cfg-1" in caplog.text
    assert run_once(settings, clock=lambda: NOW, collectors=_collectors(network)).config_fetched  # retried


def test_a_damaged_config_file_is_fetched_again(enrolled: DataDir, settings: AgentSettings,
                                                controller: StubController) -> None:
    controller.config = CONFIG
    run_once(settings, clock=lambda: NOW, collectors=_collectors(NetworkSpy()))
    enrolled.controller_config_path.write_text("{not json")
    assert enrolled.load_controller_config() is None
    assert run_once(settings, clock=lambda: NOW, collectors=_collectors(NetworkSpy())).config_fetched


def test_the_config_sets_how_often_a_full_report_goes(enrolled: DataDir, settings: AgentSettings,
                                                      controller: StubController) -> None:
    controller.config = CONFIG  # full_every_hours: 12, where the settings default is 24
    run_once(settings, clock=lambda: NOW, collectors=_collectors(NetworkSpy()))
    later = run_once(settings, clock=lambda: NOW + timedelta(hours=13), collectors=_collectors(NetworkSpy()))
    assert later.inventory_full
