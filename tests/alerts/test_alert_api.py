"""GET /api/alerts over real HTTP: filters, paging, tenant scoping; ticket-rule routes still reachable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.store import raise_alert

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _raise(running, client: str, key: str, severity: str = "warning", when: datetime = NOW) -> int:
    alert_id, _new = raise_alert(running.store, client=client, agent_id=None, type="license.expiring",
                                 severity=severity, key=key, message=f"{key} expires", now=when)
    return alert_id


def test_alerts_are_listed_filtered_paged_and_scoped(running):
    old = _raise(running, "acme", "licence:a", "info", NOW - timedelta(days=2))
    critical = _raise(running, "acme", "licence:b", "critical")
    other = _raise(running, "globex", "licence:c")
    with running.api() as api:
        everything = api.get("/api/alerts").json()
        only_critical = api.get("/api/alerts", params={"severity": "critical"}).json()["items"]
        recent = api.get("/api/alerts", params={"since": (NOW - timedelta(days=1)).isoformat()}).json()["items"]
        first_page = api.get("/api/alerts", params={"limit": 2}).json()
        second_page = api.get("/api/alerts", params={"limit": 2, "before_id": first_page["next_before_id"]}).json()
        one = api.get(f"/api/alerts/{critical}").json()
        rules = api.get("/api/alerts/ticket-rules")
    assert [item["id"] for item in everything["items"]] == [other, critical, old]
    assert everything["next_before_id"] is None
    assert [item["id"] for item in only_critical] == [critical]
    assert {item["id"] for item in recent} == {critical, other}
    assert [item["id"] for item in first_page["items"] + second_page["items"]] == [other, critical, old]
    assert one["message"] == "licence:b expires" and one["state"] == "open"
    assert rules.status_code == 200  # the rule listing is not shadowed by /api/alerts/{id}
    with running.api(running.token("viewer", client="globex")) as api:
        scoped = api.get("/api/alerts").json()["items"]
        hidden = api.get(f"/api/alerts/{critical}")
        forbidden = api.get("/api/alerts", params={"client": "acme"})
    assert [item["id"] for item in scoped] == [other]
    assert hidden.status_code == 404 and forbidden.status_code == 403
