"""POST /api/agents/{agent_id}/deploy: an ad-hoc deployment to one device, written to git and audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.store import list_audit
from tests.support.running import RunningController, run_controller, wait_until
from tests.writing.conftest import Remote, make_remote
from tests.writing.fleet import fleet_files


@pytest.fixture
def direct(tmp_path: Path, database_url: str) -> Iterator[tuple[RunningController, Remote]]:
    remote = make_remote(tmp_path / "direct", fleet_files(mode="direct"))
    with run_controller(remote.url, tmp_path / "controller", database_url) as running:
        running.wait_applied(remote.tip())
        yield running, remote


def enrol(running: RunningController, client: str, hostname: str) -> str:
    body = {"token": running.enrolment_token(client), "labels": {},
            "facts": {"hostname": hostname, "os": "linux", "arch": "x86_64"}}
    response = httpx.post(f"{running.url}/api/agent/v1/enroll", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["agent_id"])


def test_an_operator_deploys_to_one_agent_through_git(direct):
    running, remote = direct
    agent_id = enrol(running, "acme", "laptop-7")
    name = f"adhoc-hello-tool-{agent_id.removeprefix('a_')[:12]}"
    with running.api(running.token(role="viewer")) as api:
        assert api.post(f"/api/agents/{agent_id}/deploy", json={"package": "hello-tool"}).status_code == 403
    with running.api(running.token(role="operator", name="carol")) as api:
        response = api.post(f"/api/agents/{agent_id}/deploy", json={"package": "hello-tool"})
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["mode"], body["files"]) == ("direct", [f"clients/acme/deployments/{name}.yaml"])
        running.wait_applied(body["commit"])
        wait_until(lambda: running.device_state(f"acme.{name}", "laptop-7") == "pending", what="a job")
        missing = api.post(f"/api/agents/{agent_id}/deploy", json={"package": "no-such-tool"})
    text = remote.show("main", f"clients/acme/deployments/{name}.yaml")
    assert f"devices:\n      - {agent_id}" in text and "percent: 100" in text
    assert missing.status_code == 422 and "no Package 'no-such-tool'" in missing.text
    assert any(entry.action == "desired-state.write" and entry.actor == "carol"
               and entry.target == f"Deployment/acme.{name}" for entry in list_audit(running.store, None))


def test_another_clients_agent_is_not_found(direct):
    running, _remote = direct
    agent_id = enrol(running, "globex", "server-1")
    with running.api(running.token(role="operator", client="acme")) as api:
        response = api.post(f"/api/agents/{agent_id}/deploy", json={"package": "hello-tool"})
    assert response.status_code == 404
