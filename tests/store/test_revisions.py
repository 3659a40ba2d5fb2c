"""Applied and rejected revisions, and the projection of the applied one."""

from __future__ import annotations

from datetime import timedelta

from controller.desired import DesiredState
from controller.store import (
    Store,
    last_applied,
    list_deployments,
    list_packages,
    list_revisions,
    record_applied,
    record_rejected,
)
from tests.store.builders import NOW, Commit, count, rows
from tests.support.resources import client, deployment, desired, package

FIRST, SECOND, BAD = "1" * 40, "2" * 40, "b" * 40


def _fleet(version: str) -> DesiredState:
    return desired([
        (None, package("tool", version)),
        (None, deployment("tool-everywhere", "tool", group_name="all")),
        ("acme", client("acme")),
        ("acme", package("editor", "3.0")),
        ("acme", deployment("editor", "editor", group_name="all", ensure="absent")),
    ])


def test_applied_revision_writes_the_row_and_the_projection(store: Store) -> None:
    record_applied(store, FIRST, "main", Commit(), _fleet("1.0.0"), NOW)
    applied = last_applied(store)
    assert applied is not None
    assert (applied.sha, applied.branch, applied.state, applied.author, applied.summary) == (
        FIRST, "main", "applied", "Ada <ada@msp.example>", "Deploy tool")
    assert applied.applied_at == NOW
    packages = {item.id: item for item in list_packages(store, None)}
    assert set(packages) == {"tool", "acme.editor"}
    tool = packages["tool"]
    assert (tool.client, tool.version, tool.revision) == (None, "1.0.0", FIRST)
    assert packages["acme.editor"].source == "clients/acme/packages.yaml:4:1"
    assert packages["tool"].spec["installers"][0]["sha256"] == "0" * 64
    deployments = {item.id: item for item in list_deployments(store, None)}
    assert (deployments["acme.editor"].ensure, deployments["acme.editor"].client) == ("absent", "acme")
    assert deployments["tool-everywhere"].package == "tool"


def test_a_new_revision_replaces_the_projection_wholesale(store: Store) -> None:
    record_applied(store, FIRST, "main", Commit(), _fleet("1.0.0"), NOW)
    smaller = desired([(None, package("tool", "2.0.0"))], revision=SECOND)
    record_applied(store, SECOND, "main", Commit(summary="Drop editor"), smaller, NOW + timedelta(hours=1))
    assert [(item.id, item.version, item.revision) for item in list_packages(store, None)] == [
        ("tool", "2.0.0", SECOND)]
    assert list_deployments(store, None) == []
    assert [row.sha for row in list_revisions(store)] == [SECOND, FIRST]


def test_reapplying_the_current_revision_adds_no_history(store: Store) -> None:
    for _ in range(2):
        record_applied(store, FIRST, "main", Commit(), _fleet("1.0.0"), NOW)
    assert count(store, "revisions") == 1
    assert len(list_packages(store, None)) == 2


def test_a_rejected_revision_is_recorded_once_and_leaves_the_applied_one(store: Store) -> None:
    record_applied(store, FIRST, "main", Commit(), _fleet("1.0.0"), NOW)
    problems = ["clients/acme/x.yaml:3:5: unknown field 'verison'", "fleet.yaml:1:1: missing apiVersion"]
    for attempt in range(2):
        seen_at = NOW + timedelta(minutes=attempt)
        record_rejected(store, BAD, "main", Commit(summary="typo"), problems, seen_at)
    rejected = list_revisions(store, state="rejected")
    assert [(row.sha, row.problems, row.applied_at, row.seen_at) for row in rejected] == [
        (BAD, problems, None, NOW)]
    applied = last_applied(store)
    assert applied is not None and applied.sha == FIRST
    assert len(list_packages(store, None)) == 2
    assert [row["action"] for row in rows(store, "audit_log")] == ["revision.applied", "revision.rejected"]


def test_nothing_applied_yet(store: Store) -> None:
    assert last_applied(store) is None
    assert list_revisions(store) == []
