"""An agent's check-in time is written off the request path: a busy database writer never holds its answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

import controller.ingesting as ingesting
from controller.ingesting import SeenStamper
from controller.store import Store, create_enrollment_token, enroll_agent
from controller.store.tables import agents
from schemas.protocol import Facts
from tests.support.fleets import minimal_fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.held_writers import HeldWriter
from tests.support.running import run_controller, wait_until
from tests.support.simulated_agents import Agent

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _last_seen(store: Store) -> dict[str, datetime]:
    with store.read() as session:
        return {row.hostname: row.last_seen_at.replace(tzinfo=UTC)
                for row in session.execute(agents.select())}


def test_stamps_queued_behind_a_write_share_one_and_keep_each_agents_latest_time(database_url, monkeypatch):
    with Store.open(database_url) as store:
        token = create_enrollment_token(store, "acme", created_by="tests", now=NOW, max_uses=3)
        one, two, three = (enroll_agent(store, token, Facts(hostname=name, os="linux"), {}, NOW).agent_id
                           for name in ("one", "two", "three"))
        stamper = SeenStamper(store)
        held = HeldWriter(stamper, monkeypatch, ingesting, "stamp_last_seen_many")
        held.send("first", (one, NOW + timedelta(minutes=1)))
        held.wait_held()
        stamper.stamp(two, NOW + timedelta(minutes=3))  # returns at once, although the writer is busy
        stamper.stamp(two, NOW + timedelta(minutes=2))
        stamper.stamp(one, NOW + timedelta(minutes=4))
        assert _last_seen(store) == {"one": NOW, "two": NOW, "three": NOW}
        held.release()
        stamper.close()  # writes what is queued
        assert stamper.batches == 2
        assert _last_seen(store) == {"one": NOW + timedelta(minutes=4), "two": NOW + timedelta(minutes=3),
                                     "three": NOW}
        stamper.stamp(three, NOW + timedelta(minutes=5))  # closed: written at once
        assert _last_seen(store)["three"] == NOW + timedelta(minutes=5)


def test_a_stale_check_in_answers_while_the_agents_row_is_locked_and_is_stamped_after(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    commit(repo, minimal_fleet(), "fleet")
    outside = create_engine(database_url)  # another process's transaction, as far as the controller knows
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        agent = Agent(running, "host-1")
        agent_id, long_ago = agent.agent_id, datetime.now(UTC) - timedelta(hours=1)
        with outside.begin() as conn:
            conn.execute(text("UPDATE agents SET last_seen_at = :at WHERE id = :id"), {"at": long_ago, "id": agent_id})

        def last_seen() -> datetime:
            with outside.connect() as conn:
                value = conn.execute(text("SELECT last_seen_at FROM agents WHERE id = :id"),
                                     {"id": agent_id}).scalar_one()
            return value if isinstance(value, datetime) else datetime.fromisoformat(value)

        before = datetime.now(UTC)
        with outside.connect() as blocker:
            blocker.begin()
            # An open write on the agent's row: on SQLite the database's write lock, on PostgreSQL the row lock.
            blocker.execute(text("UPDATE agents SET hostname = hostname WHERE id = :id"), {"id": agent_id})
            answer = agent.http.post("/checkin", json={"seen_seq": 0}, timeout=3)
            assert answer.status_code == 200, answer.text
            assert last_seen().replace(tzinfo=UTC) == long_ago.replace(tzinfo=UTC)
            blocker.rollback()
        agent.http.close()
        wait_until(lambda: last_seen().replace(tzinfo=UTC) >= before.replace(microsecond=0), timeout=10,
                   what="the check-in time written once the row was free")
    outside.dispose()
