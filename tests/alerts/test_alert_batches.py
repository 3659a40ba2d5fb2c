"""Many agents' alert reports, one transaction: the store's batch and the API's group writer.

Whatever the batching, the alert table must end as the reports would leave it written one after
another: each report's changes in order, reports in arrival order, a key raised, cleared and raised
again leaving a cleared alert and a newer open one.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

import controller.ingesting as ingesting
from controller.api.app import create_app
from controller.api.context import ApiContext
from controller.ingesting import AlertRecorder
from controller.jobs.signing import JobSigner
from controller.settings import ControllerSettings
from controller.store import (
    AlertChange,
    ReportedAlerts,
    Store,
    create_enrollment_token,
    enroll_agent,
    record_alert_changes,
    record_alert_reports,
)
from controller.store.tables import alerts
from schemas.protocol import AGENT_API_PREFIX, Facts
from tests.support.held_writers import HeldWriter
from tests.support.running import serve_app

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


class Commits:
    """Counts the transactions committed on a store's engine."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        self._engine = store.engine
        event.listen(self._engine, "commit", self._seen)

    def _seen(self, _connection: Any) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "commit", self._seen)


def _held(store: Store, monkeypatch: pytest.MonkeyPatch) -> tuple[HeldWriter, list[list[int]]]:
    """A recorder whose first batch waits until released, and what it told the ticket worker."""
    told: list[list[int]] = []
    recorder = AlertRecorder(store, lambda ids: told.append(list(ids)))
    return HeldWriter(recorder, monkeypatch, ingesting, "record_alert_reports"), told


def test_queued_reports_share_one_transaction_and_wake_the_worker_once(store, monkeypatch):
    commits = Commits(store)
    writer, told = _held(store, monkeypatch)
    writer.send("first", _report("first", _change("first:disk")))
    writer.wait_held()
    for index in range(20):
        writer.send(f"agent-{index}", _report(f"agent-{index}", _change(f"agent-{index}:disk"),
                                              _change(f"agent-{index}:cpu", "cleared")))
    writer.wait_queued(20)
    writer.release()
    commits.close()
    assert commits.count == 2 and writer.writer.batches == 2  # 21 reports: the held one, then the rest
    assert len(told) == 2  # the ticket worker heard once per batch, every alert the batch touched
    queued = [writer.outcomes[f"agent-{index}"] for index in range(20)]
    assert sorted(told[1]) == sorted(alert_id for ids in queued for alert_id in ids)
    rows = _table(store, "")
    assert sorted(row["key"] for row in rows) == sorted(["first:disk", *(f"agent-{i}:disk" for i in range(20))])


def test_one_bad_report_does_not_cost_the_others_their_write(store, monkeypatch):
    writer, told = _held(store, monkeypatch)
    writer.send("first", _report("first", _change("first:disk")))
    writer.wait_held()
    writer.send("good", _report("good", _change("good:disk")))
    # A report the database refuses (here: a detail that is not JSON) fails the batch it is in.
    writer.send("bad", _report("bad", dataclasses.replace(_change("bad:disk"), detail={"value": object()})))
    writer.wait_queued(2)  # good and bad go in one batch, which fails and is retried one by one
    writer.release()
    assert isinstance(writer.outcomes["bad"], Exception)
    assert [row["key"] for row in _table(store, "")] == ["first:disk", "good:disk"]
    assert writer.outcomes["good"] == told[-1]  # told of good's alert; bad's told nobody
    assert writer.writer.batches == 2  # the held one, and good's on its own


def test_a_report_given_up_before_its_batch_began_is_not_written(store, monkeypatch):
    """An async request handler awaits its report's future; cancelled (the request went away) while
    queued, the report is left out and the writer goes on with the others."""
    writer, _told = _held(store, monkeypatch)
    writer.send("first", _report("first", _change("first:disk")))
    writer.wait_held()
    gone = writer.writer.enqueue(_report("gone", _change("gone:disk")))
    kept = writer.writer.enqueue(_report("kept", _change("kept:disk")))
    assert gone.cancel()
    writer.release()
    assert gone.cancelled() and len(kept.result(10)) == 1
    assert [row["key"] for row in _table(store, "")] == ["first:disk", "kept:disk"]


def test_concurrent_reports_of_many_agents_end_as_sequential_ones(store):
    """Eight agents, each sending its reports one after another on its own thread (as an agent
    does: the next report after the answer), all at once: batches form as they may."""
    reports = _storm(7, agents=8, reports=160)
    commits = Commits(store)
    told: list[int] = []
    recorder = AlertRecorder(store, told.extend)
    by_agent: dict[str, list[ReportedAlerts]] = {}
    for report in reports:
        by_agent.setdefault(str(report.agent_id), []).append(_under("batch:", report))
    answers: dict[str, list[list[int]]] = {}
    start = threading.Barrier(len(by_agent))

    def agent(name: str) -> None:
        start.wait(10)
        answers[name] = [recorder.record(report) for report in by_agent[name]]

    threads = [threading.Thread(target=agent, args=(name,)) for name in by_agent]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    recorder.close()
    commits.close()
    one_by_one = _sequentially(store, "seq:", reports)
    # Each agent's keys are its own, so its reports' order alone decides its alerts.
    for name in by_agent:
        assert _table(store, f"batch:{name}:") == _table(store, f"seq:{name}:")
        mine = [index for index, report in enumerate(reports) if report.agent_id == name]
        assert (_positions(store, f"batch:{name}:", answers[name])
                == _positions(store, f"seq:{name}:", [one_by_one[index] for index in mine]))
    # A batch of reports without changes writes nothing, so commits no transaction.
    assert commits.count <= recorder.batches <= len(reports)
    assert sorted(told) == sorted(alert_id for ids in answers.values() for one in ids for alert_id in one)


@pytest.fixture
def served(store, tmp_path, request) -> Iterator[tuple[str, list[list[int]], ApiContext]]:
    """The API on a real port, with the alert recorder (``grouped``) or without one (``direct``)."""
    told: list[list[int]] = []
    context = ApiContext(store=store, signer=JobSigner.load_or_create(tmp_path / "signing"),
                         settings=ControllerSettings(data_dir=tmp_path), clock=lambda: NOW,
                         alerts_changed=lambda ids: told.append(list(ids)))
    if request.param == "grouped":
        context.alert_recorder = AlertRecorder(store, context.alerts_changed)
    with serve_app(create_app(context)) as url:
        yield url, told, context
    if context.alert_recorder is not None:
        context.alert_recorder.close()


@pytest.mark.parametrize("served", ["grouped", "direct"], indirect=True)
def test_reports_over_http_are_stored_and_the_worker_hears_of_them(store, served):
    url, told, context = served
    token = create_enrollment_token(store, "acme", created_by="tests", now=NOW)
    credentials = [enroll_agent(store, token, Facts(hostname=f"web-{index}", os="linux"), {}, NOW)
                   for index in range(6)]
    statuses: list[int] = []

    def send(credential: Any) -> None:
        with httpx.Client(base_url=f"{url}{AGENT_API_PREFIX}", timeout=30,
                          headers={"Authorization": f"Bearer {credential.credential}"}) as http:
            for state in ("raised", "cleared", "raised"):
                item = {"id": state, "monitor": "disk", "subject": "/", "severity": "critical", "state": state,
                        "message": "/ is full", "values": {}, "observed_at": NOW.isoformat()}
                statuses.append(http.post("/alerts", json={"alerts": [item]}).status_code)

    threads = [threading.Thread(target=send, args=(credential,)) for credential in credentials]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 18
    rows = _table(store, "agent:")
    assert sorted((row["agent_id"], row["state"]) for row in rows) == sorted(
        (credential.agent_id, state) for credential in credentials for state in ("cleared", "open"))
    with store.read() as session:
        all_ids = session.execute(select(alerts.c.id)).scalars().all()
    assert {alert_id for ids in told for alert_id in ids} == set(all_ids)
    if context.alert_recorder is not None:
        assert len(told) == context.alert_recorder.batches <= 18
