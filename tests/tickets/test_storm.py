"""A storm of 10,000 alerts within a minute through the real HTTP API of a real controller
(SQLite; PostgreSQL when FLEETWARD_TEST_PG is set): deduplication holds (one ticket per device and
alert type), nothing is dropped (every critical alert is on its ticket and its latest message on
the ticket), nothing matches without a rule, and no request fails.

50 agents each send 200 alert items in 4 reports of 50, all at once: raises of 10 disk volumes and
5 processes (critical), 5 memory warnings (no rule matches), the same alerts raised again with a
new message round after round, and a raise then a clear of the reboot alert. The timing figures are the benchmark's
(``bench/alert_ticket_bench.py``); this test checks what must hold.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from controller.store.tables import alerts, service_request_notes, service_requests
from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller, wait_until

AGENTS = 50
REPORTS = 4
RULE = """\
apiVersion: fleetward/v1
kind: AlertTicketRule
metadata: {name: critical}
spec:
  match: {alertTypes: ["agent.*"], severities: [critical]}
  onClear: resolve
"""


def _items(agent: int) -> list[dict[str, Any]]:
    """This agent's 200 items, in the order it observes them (observed_at increasing)."""
    start = datetime.now(UTC)
    items: list[tuple[str, str, str, str, str]] = []  # monitor, subject, severity, state, message
    items += [("disk", f"/vol{n}", "critical", "raised", f"/vol{n} is full") for n in range(10)]
    items += [("process", f"worker-{n}", "critical", "raised", f"worker-{n} is down") for n in range(5)]
    items += [("memory", f"bank{n}", "warning", "raised", f"bank{n} is busy") for n in range(5)]
    items += [("reboot", "", "critical", "raised", "a reboot is pending")]
    round_ = 0
    while len(items) < 199:
        round_ += 1
        items += [("disk", f"/vol{n}", "critical", "raised", f"/vol{n} still full, round {round_}")
                  for n in range(10)]
        items += [("process", f"worker-{n}", "critical", "raised", f"worker-{n} down, round {round_}")
                  for n in range(5)]
        items += [("memory", "bank0", "warning", "raised", f"bank0 busy, round {round_}")]
    items = [*items[:199], ("reboot", "", "critical", "cleared", "")]
    return [{"id": f"a{agent}-{index}", "monitor": monitor, "subject": subject, "severity": severity,
             "state": state, "message": message,
             "observed_at": (start + timedelta(microseconds=index)).isoformat()}
            for index, (monitor, subject, severity, state, message) in enumerate(items)]


def test_a_storm_of_10000_alerts_in_a_minute(tmp_path, database_url) -> None:
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, {"clients/acme/client.yaml": ACME_CLIENT, "clients/acme/rules.yaml": RULE})
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        token = running.enrolment_token("acme")
        with httpx.Client(base_url=running.url, timeout=30) as http:
            enrolled = [http.post("/api/agent/v1/enroll", json={
                "token": token, "facts": {"hostname": f"host-{n:02d}", "os": "linux"}}).json()
                for n in range(AGENTS)]
        sent = {answer["agent_id"]: _items(n) for n, answer in enumerate(enrolled)}
        assert sum(map(len, sent.values())) == 10_000

        def report(agent: dict[str, str]) -> list[int]:
            items = sent[agent["agent_id"]]
            size = len(items) // REPORTS
            headers = {"Authorization": f"Bearer {agent['credential']}"}
            with httpx.Client(base_url=f"{running.url}/api/agent/v1", headers=headers, timeout=60) as http:
                return [http.post("/alerts", json={"alerts": items[start:start + size]}).status_code
                        for start in range(0, len(items), size)]

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=AGENTS) as pool:
            statuses = Counter(status for answer in pool.map(report, enrolled) for status in answer)
        elapsed = time.monotonic() - started
        assert statuses == {200: AGENTS * REPORTS}, statuses
        assert elapsed < 60, f"the storm took {elapsed:.0f} s to send"

        def settled() -> bool:
            """The ticket worker has caught up: it may still be working through the storm's last
            reports well after their POSTs were answered, so wait for the end state, not a fixed time."""
            with running.store.read() as session:
                unlinked = session.execute(select(alerts.c.id).where(
                    alerts.c.severity == "critical", alerts.c.state == "open",
                    alerts.c.service_request_id.is_(None)).limit(1)).first()
                unresolved = session.execute(select(alerts.c.id).join(
                    service_requests, service_requests.c.id == alerts.c.service_request_id).where(
                    alerts.c.state == "cleared", service_requests.c.state == "new").limit(1)).first()
                latest = session.execute(select(alerts.c.message, alerts.c.service_request_id).where(
                    alerts.c.severity == "critical", alerts.c.state == "open")).all()
                told = {ticket_id: [body] for ticket_id, body in session.execute(
                    select(service_requests.c.id, service_requests.c.body))}
                for ticket_id, text in session.execute(select(service_request_notes.c.service_request_id,
                                                              service_request_notes.c.text)):
                    # Each SELECT sees what was committed when it ran (PostgreSQL's read committed): a
                    # ticket opened since the one above may already have notes.
                    told.setdefault(ticket_id, []).append(text)
            return unlinked is None and unresolved is None and all(
                any(message in text for text in told.get(ticket_id, ())) for message, ticket_id in latest)

        wait_until(settled, timeout=90, interval=0.5,
                   what="every open critical alert and its latest message on a ticket, every cleared one resolved")
        time.sleep(1.5)  # a pass more: anything that should not happen would have happened by now
        with running.store.read() as session:
            tickets = session.execute(select(*service_requests.c)).mappings().all()
            rows = session.execute(select(*alerts.c)).mappings().all()
            notes = session.execute(select(service_request_notes.c.service_request_id,
                                           service_request_notes.c.text)).all()

    per_key = Counter(ticket["dedup_key"] for ticket in tickets)
    expected = {f"{agent_id}/agent.{monitor}" for agent_id in sent for monitor in ("disk", "process")}
    assert set(per_key) <= expected | {f"{agent_id}/agent.reboot" for agent_id in sent}
    assert {key for key in per_key if not key.endswith("reboot")} == expected  # one per device and type
    assert max(per_key.values()) == 1  # deduplicated: never a second ticket for a key
    assert all(ticket["state"] == "new" for ticket in tickets if not ticket["dedup_key"].endswith("reboot"))
    assert all(ticket["state"] == "resolved" for ticket in tickets if ticket["dedup_key"].endswith("reboot"))
    open_ids = {ticket["id"] for ticket in tickets if ticket["state"] == "new"}
    text_of: dict[int, str] = {ticket["id"]: ticket["body"] for ticket in tickets}
    for ticket_id, text in notes:
        text_of[ticket_id] += "\n" + text
    critical = [row for row in rows if row["severity"] == "critical" and row["state"] == "open"]
    assert len(critical) == AGENTS * 15
    for row in critical:  # nothing dropped: on its ticket, its latest message on the ticket too
        assert row["service_request_id"] in open_ids, row["key"]
        assert row["message"] in text_of[row["service_request_id"]], row["key"]
    warnings = {row["id"] for row in rows if row["severity"] == "warning"}
    assert not warnings & {ticket["source_alert_id"] for ticket in tickets}
    assert all(row["service_request_id"] is None for row in rows if row["id"] in warnings)
