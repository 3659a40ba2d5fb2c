"""write_outcomes writes only what changed and drops what the plan no longer mentions."""

from __future__ import annotations

from datetime import timedelta

from controller.store import (
    OutcomeChanges,
    Store,
    deployment_status,
    deployment_summaries,
    record_applied,
    write_outcomes,
)
from tests.store.builders import NOW, SHA, Commit, enroll, outcome, rows, statements, writes
from tests.support.resources import deployment, desired, package

LATER = NOW + timedelta(minutes=5)


def test_outcomes_are_written_then_only_changes(store: Store) -> None:
    one, two = enroll(store, hostname="one"), enroll(store, hostname="two")
    first = [outcome(one, hostname="one"), outcome(two, hostname="two")]
    assert write_outcomes(store, first, None, NOW) == OutcomeChanges(2, 0)
    with statements(store) as seen:
        assert write_outcomes(store, first, None, LATER) == OutcomeChanges(0, 0)
    assert seen and writes(seen) == []

    moved = [outcome(one, state="converged", hostname="one"), outcome(two, hostname="two")]
    assert write_outcomes(store, moved, None, LATER) == OutcomeChanges(1, 0)
    stored = {row["agent_id"]: (row["state"], row["updated_at"]) for row in rows(store, "deployment_targets")}
    assert stored == {one.agent_id: ("converged", LATER), two.agent_id: ("pending", NOW)}


def test_rows_the_plan_no_longer_mentions_are_deleted_for_covered_agents_only(store: Store) -> None:
    one, two = enroll(store, hostname="one"), enroll(store, hostname="two")
    write_outcomes(store, [outcome(one, "d1"), outcome(one, "d2"), outcome(two, "d1")], None, NOW)
    # A pass over agent one only: d2 was removed from the desired state.
    assert write_outcomes(store, [outcome(one, "d1")], {one.agent_id}, LATER) == OutcomeChanges(0, 1)
    assert {(row["deployment"], row["agent_id"]) for row in rows(store, "deployment_targets")} == {
        ("d1", one.agent_id), ("d1", two.agent_id)}
    # A full pass drops agent two's row too.
    assert write_outcomes(store, [outcome(one, "d1")], None, LATER) == OutcomeChanges(0, 1)
    assert [row["agent_id"] for row in rows(store, "deployment_targets")] == [one.agent_id]


def test_status_and_summaries(store: Store) -> None:
    record_applied(store, SHA, "main", Commit(), desired([
        (None, package("tool")), (None, deployment("tool", "tool", group_name="g")),
        (None, deployment("untargeted", "tool", group_name="g"))], revision=SHA), NOW)
    acme = [enroll(store, "acme", f"acme-{index}") for index in range(3)]
    globex = enroll(store, "globex", "globex-1")
    write_outcomes(store, [
        outcome(acme[0], "tool", state="converged", hostname="acme-0"),
        outcome(acme[1], "tool", state="failed", reason="exit 1", hostname="acme-1"),
        outcome(acme[2], "tool", state="converged", hostname="acme-2"),
        outcome(globex, "tool", state="pending", hostname="globex-1"),
    ], None, NOW)
    status = deployment_status(store, "tool", None)
    assert [(row.hostname, row.state, row.reason) for row in status] == [
        ("acme-0", "converged", ""), ("acme-1", "failed", "exit 1"), ("acme-2", "converged", ""),
        ("globex-1", "pending", "")]
    summaries = {summary.deployment: summary for summary in deployment_summaries(store, None)}
    assert summaries["tool"].counts == {"converged": 2, "failed": 1, "pending": 1}
    assert (summaries["tool"].total, summaries["untargeted"].total) == (4, 0)
