"""POST /api/agent/v1/alerts over real HTTP: an agent's disk alert shows in GET /api/alerts, re-sending
changes nothing, it clears; another agent's id, bad bodies and oversized bodies are refused."""

from __future__ import annotations

from typing import Any

import httpx

from tests.assets.test_asset_api import Agent, _close_agents  # noqa: F401 (autouse fixture closes clients)
from tests.support.running import RunningController


def _alert(item_id: str, state: str = "raised", severity: str = "warning", **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "monitor": "disk", "subject": "/data", "severity": severity, "state": state,
            "message": "/data has 4.0% free", "values": {"free_percent": 4.0},
            "observed_at": "2026-03-01T08:00:00+00:00", **extra}


def test_agent_disk_alert_is_stored_listed_deduplicated_and_cleared(running: RunningController) -> None:
    agent = Agent(running, "acme", "web-01")
    first = agent.http.post("/alerts", json={"agent_id": agent.agent_id, "alerts": [_alert("a1")]})
    again = agent.http.post("/alerts", json={"alerts": [_alert("a2", severity="critical")]})
    assert first.json() == {"stored": ["a1"]} and again.json() == {"stored": ["a2"]}
    with running.api() as api:
        (listed,) = api.get("/api/alerts", params={"state": "open"}).json()["items"]
    assert listed["type"] == "agent.disk" and listed["client"] == "acme" and listed["severity"] == "critical"
    assert listed["agent_id"] == agent.agent_id
    cleared = agent.http.post("/alerts", json={"alerts": [_alert("a3", state="cleared")]})
    assert cleared.status_code == 200
    with running.api() as api:
        items = api.get("/api/alerts").json()["items"]
        still_open = api.get("/api/alerts", params={"state": "open"}).json()["items"]
    assert [item["state"] for item in items] == ["cleared"] and still_open == []


def test_refusals(running: RunningController) -> None:
    agent = Agent(running, "acme", "web-01")
    other = agent.http.post("/alerts", json={"agent_id": "a_" + "9" * 32, "alerts": [_alert("x")]})
    malformed = agent.http.post("/alerts", json={"alerts": [_alert("x", severity="dire")]})
    oversized = agent.http.post("/alerts", content=b'{"alerts": [' + b" " * (70 * 1024) + b"]}",
                                headers={"Content-Type": "application/json"})
    anonymous = httpx.post(f"{running.url}/api/agent/v1/alerts", json={"alerts": []}, timeout=10)
    assert other.status_code == 403
    assert malformed.status_code == 422 and "severity" in malformed.text
    assert oversized.status_code == 413
    assert anonymous.status_code == 401
    with running.api() as api:
        assert api.get("/api/alerts").json()["items"] == []
