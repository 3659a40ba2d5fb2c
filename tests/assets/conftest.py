"""A controller serving a small fleet (acme allows an active scan, globex does not)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fleets import ACME_CLIENT, minimal_fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.running import RunningController, run_controller

GLOBEX_CLIENT = ACME_CLIENT.replace("acme", "globex").replace("ACME Corp", "Globex")
ACME_SCANNING = ACME_CLIENT.replace(
    "timezone: Europe/Berlin}",
    "timezone: Europe/Berlin, networkDiscovery: {activeScan: {cidrs: [10.20.0.0/24], ports: [22, 443]}}}")


@pytest.fixture
def fleet_repo(tmp_path):
    repo = init_repo(tmp_path / "fleet")
    fleet = {**minimal_fleet(), "clients/globex/client.yaml": GLOBEX_CLIENT}
    sha = commit(repo, fleet, "fleet")
    return repo, sha


@pytest.fixture
def running(tmp_path, fleet_repo, database_url) -> Iterator[RunningController]:
    repo, sha = fleet_repo
    with run_controller(str(repo), tmp_path / "controller", database_url) as controller:
        controller.wait_applied(sha)
        yield controller
