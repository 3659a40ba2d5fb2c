"""Many agents' alert reports, one transaction: the store's batch.

Whatever the batching, the alert table must end as the reports would leave it written one after
another: each report's changes in order, reports in arrival order, a key raised, cleared and raised
again leaving a cleared alert and a newer open one.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from controller.store import (
    AlertChange,
    ReportedAlerts,
    Store,
    record_alert_changes,
    record_alert_reports,
)
from controller.store.tables import alerts

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
COLUMNS = ("client", "agent_id", "type", "severity", "state", "message", "detail", "raised_at", "updated_at",
           "cleared_at")


@pytest.fixture
def store(database_url):
    opened = Store.open(database_url)
    yield opened
    opened.close()


def _change(key: str, state: Any = "raised", message: str = "disk full", severity: Any = "critical",
            at: int = 0) -> AlertChange:
    return AlertChange(key=key, type="agent.disk", severity=severity, state=state, message=message,
                       detail={"subject": "/", "at": at}, observed_at=NOW + timedelta(seconds=at))


def _report(agent: str, *changes: AlertChange, at: int = 0) -> ReportedAlerts:
    return ReportedAlerts("acme", agent, list(changes), NOW + timedelta(seconds=at))


def _table(store: Store, prefix: str) -> list[dict[str, Any]]:
    """The rows whose key starts with ``prefix``, oldest first, keys without it, ids as positions."""
    with store.read() as session:
        rows = session.execute(select(*alerts.c).where(alerts.c.key.startswith(prefix))
                               .order_by(alerts.c.id)).mappings().all()
    return [{"key": row["key"].removeprefix(prefix), **{column: row[column] for column in COLUMNS}}
            for row in rows]


def _positions(store: Store, prefix: str, touched: Iterable[list[int]]) -> list[list[int]]:
    """Alert ids as their positions among ``prefix``'s rows (ids differ between two runs)."""
    with store.read() as session:
        ids = session.execute(select(alerts.c.id).where(alerts.c.key.startswith(prefix))
                              .order_by(alerts.c.id)).scalars().all()
    position = {alert_id: index for index, alert_id in enumerate(ids)}
    return [[position[alert_id] for alert_id in ids_of_one] for ids_of_one in touched]


def _under(prefix: str, report: ReportedAlerts) -> ReportedAlerts:
    changes = [dataclasses.replace(change, key=prefix + change.key) for change in report.changes]
    return dataclasses.replace(report, changes=changes)


def _sequentially(store: Store, prefix: str, reports: list[ReportedAlerts]) -> list[list[int]]:
    return [record_alert_changes(store, client=report.client, agent_id=report.agent_id,
                                 changes=_under(prefix, report).changes, now=report.now) for report in reports]


def _storm(seed: int, agents: int = 4, reports: int = 40) -> list[ReportedAlerts]:
    """Reports of a few agents over few keys, so keys come back raised, refreshed, cleared, raised again."""
    rng = random.Random(seed)
    made = []
    for index in range(reports):
        agent = f"agent-{rng.randrange(agents)}"
        changes = [_change(f"{agent}:{rng.choice(['cpu', 'disk', 'memory'])}",
                           state=rng.choice(["raised", "raised", "cleared"]),
                           message=rng.choice(["high", "very high"]), severity=rng.choice(["warning", "critical"]),
                           at=index)
                   for _ in range(rng.randint(0, 4))]
        made.append(_report(agent, *changes, at=index))
    return made


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["storm-1", "storm-2", "storm-3"])
def test_a_batch_ends_as_the_same_reports_one_after_another(store, seed):
    reports = _storm(seed)
    # Some keys already open before the batch, as in a running controller.
    opening = [_report("agent-0", _change("agent-0:cpu", message="high")),
               _report("agent-1", _change("agent-1:disk"), _change("agent-1:memory", severity="warning"))]
    _sequentially(store, "seq:", opening)
    record_alert_reports(store, [_under("batch:", report) for report in opening])

    one_by_one = _sequentially(store, "seq:", reports)
    batched = record_alert_reports(store, [_under("batch:", report) for report in reports])

    assert _table(store, "batch:") == _table(store, "seq:")
    assert _positions(store, "batch:", batched) == _positions(store, "seq:", one_by_one)


def test_a_key_raised_cleared_and_raised_again_within_one_batch(store):
    (before,) = record_alert_reports(store, [_report("a", _change("a:disk", message="90% full"))])
    touched = record_alert_reports(store, [
        _report("a", _change("a:disk", message="95% full", at=1), at=1),  # refreshes the open one
        _report("a", _change("a:disk", "cleared", at=2), at=2),
        _report("a", _change("a:disk", message="99% full", at=3), _change("a:new", at=3),
                _change("a:new", "cleared", at=4), _change("a:new", message="again", at=5), at=5),
        _report("a", _change("a:gone", "cleared", at=6), at=6),  # nothing open: nothing touched
    ])
    rows = _table(store, "a:")
    assert [(row["key"], row["state"], row["message"]) for row in rows] == [
        ("disk", "cleared", "95% full"),
        ("disk", "open", "99% full"),
        ("new", "cleared", "disk full"),
        ("new", "open", "again"),
    ]
    assert (rows[0]["cleared_at"], rows[0]["updated_at"]) == (NOW + timedelta(seconds=2), NOW + timedelta(seconds=2))
    assert rows[1]["raised_at"] == NOW + timedelta(seconds=3)
    with store.read() as session:
        ids = session.execute(select(alerts.c.id).order_by(alerts.c.id)).scalars().all()
    assert before == [ids[0]]
    assert touched == [[ids[0]], [ids[0]], [ids[1], ids[2], ids[2], ids[3]], []]
