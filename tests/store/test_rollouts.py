"""Rollout state, history and schedules in SQL: written only when they change, rolled back once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from controller.errors import Conflict
from controller.planning import plan
from controller.store import (
    Store,
    get_rollout,
    list_deployment_history,
    record_applied,
    request_rollback,
    write_rollouts,
)
from tests.store.builders import NOW, Commit, count, rows
from tests.support.resources import agent, client, deployment, desired, observed, package, resource

WINDOW = {"cron": "0 22 * * 1-5", "durationMinutes": 120, "timezone": "Europe/Berlin"}


def fleet():
    return desired([
        (None, client("acme", deploymentWindow={"cron": "0 1 * * *", "durationMinutes": 60})),
        ("acme", package("tool", "2.0")),
        ("acme", deployment("tool", "tool", devices=["a1", "a2"], window=WINDOW)),
    ])


def test_the_applied_revision_projects_its_windows(store: Store) -> None:
    record_applied(store, "f" * 40, "main", Commit(), fleet(), NOW)
    assert [(r["id"], r["cron"], r["duration_minutes"], r["timezone"]) for r in rows(store, "deployment_schedules")] \
        == [("client:acme", "0 1 * * *", 60, "UTC"), ("deployment:acme.tool", "0 22 * * 1-5", 120, "Europe/Berlin")]


def test_named_windows_are_projected_and_resolved(store: Store) -> None:
    nights = resource("MaintenanceWindow", "nights", {"cron": "0 22 * * *", "durationMinutes": 240})
    state = desired([(None, client("acme", timezone="Europe/Berlin", deploymentWindow="nights")),
                     ("acme", nights), ("acme", package("tool")),
                     ("acme", deployment("tool", "tool", devices=["a1"], window="nights"))])
    record_applied(store, "f" * 40, "main", Commit(), state, NOW)
    assert [(r["id"], r["client"], r["cron"], r["duration_minutes"], r["timezone"])
            for r in rows(store, "deployment_schedules")] == [
        ("client:acme", "acme", "0 22 * * *", 240, "Europe/Berlin"),
        ("deployment:acme.tool", "acme", "0 22 * * *", 240, None),
        ("window:acme.nights", "acme", "0 22 * * *", 240, None)]


def test_states_are_written_when_they_change_and_the_history_names_who(store: Store) -> None:
    state = fleet()
    result = plan(state, observed(agent("a1"), agent("a2")), NOW)
    assert write_rollouts(store, result.rollouts, state, "Ann <ann@example.com>", NOW) == []
    unchanged = [replace(report, transitions=()) for report in result.rollouts]  # as the next pass reports it
    assert write_rollouts(store, unchanged, state, "Ann <ann@example.com>", NOW + timedelta(minutes=1)) == []
    (row,) = rows(store, "deployment_rollouts")
    assert row["updated_at"] == NOW  # the same state again wrote nothing
    (started,) = list_deployment_history(store, "acme.tool")
    assert (started.action, started.actor, started.actor_kind, started.wave) == (
        "started", "Ann <ann@example.com>", "commit", 1)


def test_a_rollback_halts_once_and_is_recorded(store: Store) -> None:
    state = fleet()
    with pytest.raises(Conflict, match="has not started a rollout yet"):
        request_rollback(store, "acme.tool", actor="ops", actor_kind="api-token", client="acme", reason="",
                         now=NOW)
    write_rollouts(store, plan(state, observed(agent("a1"), agent("a2")), NOW).rollouts, state, "Ann", NOW)
    record = request_rollback(store, "acme.tool", actor="ops", actor_kind="api-token", client="acme",
                              reason="breaks printing", now=NOW + timedelta(minutes=5))
    assert record.halted and record.rolled_back_at == NOW + timedelta(minutes=5)
    assert record.reason == "rolled back by ops: breaks printing"
    with pytest.raises(Conflict, match="already rolled back"):
        request_rollback(store, "acme.tool", actor="ops", actor_kind="api-token", client="acme", reason="",
                         now=NOW + timedelta(minutes=6))
    assert [entry.action for entry in list_deployment_history(store, "acme.tool")] == ["started", "rollback"]
    assert count(store, "audit_log") == 1
    assert get_rollout(store, "acme.nope") is None
