"""A controller serving the DESIGN.md example fleet from a local git repository."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fleets import ACME_CLIENT, minimal_fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.running import RunningController, make_artifact, run_controller

GLOBEX_CLIENT = ACME_CLIENT.replace("acme", "globex").replace("ACME Corp", "Globex")


@pytest.fixture
def fleet_repo(tmp_path):
    """The example fleet with a real artifact (file:// URL) and a second client, globex."""
    (tmp_path / "artifacts").mkdir()
    artifact = make_artifact(tmp_path / "artifacts", "hello-tool-1.0.0.tar", {"bin/hello": "hi\n"})
    fleet = minimal_fleet(url=artifact.path.as_uri(), sha256=artifact.sha256, size=artifact.size)
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, {**fleet, "clients/globex/client.yaml": GLOBEX_CLIENT}, "fleet")
    return repo, sha


@pytest.fixture
def running(tmp_path, fleet_repo, database_url) -> Iterator[RunningController]:
    repo, sha = fleet_repo
    with run_controller(str(repo), tmp_path / "controller", database_url) as controller:
        controller.wait_applied(sha)
        yield controller
