"""The operator API over real HTTP: tokens, roles, client scoping, JSON errors, OpenAPI."""

from __future__ import annotations

import httpx
import pytest

from tests.support.running import AgentProcess, wait_until


@pytest.fixture
def two_clients(running, tmp_path):
    """One enrolled agent per client; the acme one converged on hello-tool."""
    acme = AgentProcess(tmp_path / "acme-agent")
    acme.enroll(running.url, running.enrolment_token("acme"))
    globex = AgentProcess(tmp_path / "globex-agent")
    globex.enroll(running.url, running.enrolment_token("globex"))
    wait_until(lambda: running.device_state("acme.hello-on-linux", _host()) == "pending", what="job")
    acme.once()
    wait_until(lambda: running.device_state("acme.hello-on-linux", _host()) == "converged",
               what="convergence")
    return acme, globex


def _host() -> str:
    import socket

    return socket.gethostname()


def test_no_token_is_401_json(running):
    response = httpx.get(f"{running.url}/api/agents")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_health_needs_no_token_and_names_the_applied_revision(running, fleet_repo):
    _repo, sha = fleet_repo
    response = httpx.get(f"{running.url}/api/health")
    assert response.json() == {"status": "ok", "applied_revision": sha}


def test_unknown_route_is_json_404(running):
    response = httpx.get(f"{running.url}/api/nope")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_openapi_lists_the_endpoints(running):
    assert httpx.get(f"{running.url}/docs").status_code == 200
    paths = httpx.get(f"{running.url}/openapi.json").json()["paths"]
    for path in ("/api/agents", "/api/agents/{agent_id}", "/api/deployments",
                 "/api/deployments/{deployment_id}/status", "/api/revisions",
                 "/api/agent/v1/enroll", "/api/agent/v1/checkin", "/api/agent/v1/jobs/lease"):
        assert path in paths


def test_admin_sees_every_client(running, two_clients):
    with running.api() as api:
        agents = api.get("/api/agents").json()["items"]
    assert sorted(agent["client"] for agent in agents) == ["acme", "globex"]


def test_client_scoped_viewer_sees_only_its_client(running, two_clients):
    acme, globex = two_clients
    with running.api(running.token("viewer", client="acme")) as api:
        assert [a["client"] for a in api.get("/api/agents").json()["items"]] == ["acme"]
        assert api.get(f"/api/agents/{acme.agent_id}").status_code == 200
        hidden = api.get(f"/api/agents/{globex.agent_id}")
        assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
        forbidden = api.get("/api/agents", params={"client": "globex"})
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"


def test_agent_detail_shows_managed_software_and_jobs(running, two_clients):
    acme, _globex = two_clients
    with running.api() as api:
        detail = api.get(f"/api/agents/{acme.agent_id}").json()
    assert [(m["package"], m["version"]) for m in detail["managed"]] == [("hello-tool", "1.0.0")]
    assert detail["deployments"][0]["state"] == "converged"
    assert detail["recent_jobs"][0]["state"] == "succeeded"
    assert "credential" not in str(detail).lower()


def test_deployment_status_per_device(running, two_clients):
    with running.api() as api:
        listing = api.get("/api/deployments").json()["items"]
        status = api.get("/api/deployments/acme.hello-on-linux/status").json()
        missing = api.get("/api/deployments/acme.nope/status")
    (item,) = listing
    assert (item["id"], item["package"], item["version"], item["devices"], item["converged"]) == (
        "acme.hello-on-linux", "hello-tool", "1.0.0", 1, 1)
    assert [(d["hostname"], d["state"]) for d in status["devices"]] == [(_host(), "converged")]
    assert missing.status_code == 404


def test_globex_viewer_cannot_see_acme_deployment(running, two_clients):
    with running.api(running.token("viewer", client="globex")) as api:
        assert api.get("/api/deployments").json()["items"] == []
        assert api.get("/api/deployments/acme.hello-on-linux/status").status_code == 404
