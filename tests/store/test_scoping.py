"""Tenancy: every read that serves a request, asked with client "a", shows a's data and never b's."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from controller.errors import NotFound
from controller.store import (
    Store,
    create_api_token,
    deployment_status,
    deployment_summaries,
    device_targets,
    get_agent,
    get_deployment,
    get_job,
    ingest_inventory,
    issue_jobs,
    jobs_for_agent,
    jobs_for_deployment,
    latest_jobs,
    lease_jobs,
    list_agents,
    list_audit,
    list_deployments,
    list_job_events,
    list_managed,
    list_packages,
    list_revisions,
    list_software,
    list_tokens,
    record_applied,
    record_job_event,
    record_rejected,
    write_outcomes,
)
from schemas.protocol import InventoryReport, ManagedItem, SoftwareItem
from tests.store.builders import NOW, SHA, Commit, enroll, event, intent, outcome, plan, principal
from tests.support.resources import deployment, desired, package


@dataclass(frozen=True)
class World:
    store: Store
    agents: dict[str, str]
    jobs: dict[str, str]


def _populate(store: Store, name: str) -> tuple[str, str]:
    enrolled = enroll(store, name, f"host-of-{name}")
    create_api_token(store, name=f"viewer-of-{name}", role="viewer", client=name, now=NOW)
    ingest_inventory(store, principal(store, enrolled), InventoryReport(
        full=True, software=[SoftwareItem(name=f"app-of-{name}")],
        managed=[ManagedItem(package=f"pkg-of-{name}", version="1")]), NOW)
    [job_id] = issue_jobs(store, plan(intent(enrolled, f"pkg-of-{name}", deployment="tool"),
                                      intent(enrolled, f"pkg-of-{name}", deployment=f"{name}.editor")),
                          SHA, NOW, timedelta(hours=1))[:1]
    lease_jobs(store, enrolled.agent_id, NOW, timedelta(minutes=5), 10)
    record_job_event(store, enrolled.agent_id, job_id, event("failed", reason=f"failed-on-{name}"), NOW)
    write_outcomes(store, [outcome(enrolled, "tool", hostname=f"host-of-{name}"),
                           outcome(enrolled, f"{name}.editor", hostname=f"host-of-{name}")],
                   {enrolled.agent_id}, NOW)
    return enrolled.agent_id, job_id


@pytest.fixture
def world(store: Store) -> World:
    record_applied(store, SHA, "main", Commit(), desired([
        (None, package("tool")), (None, deployment("tool", "tool", group_name="all")),
        ("a", package("editor")), ("a", deployment("editor", "editor", group_name="all")),
        ("b", package("editor")), ("b", deployment("editor", "editor", group_name="all")),
    ], revision=SHA), NOW)
    record_rejected(store, "f" * 40, "main", Commit(), [
        "clients/a/bad.yaml:1:1: problem-of-a", "clients/b/bad.yaml:1:1: problem-of-b"], NOW)
    agents, jobs = {}, {}
    for name in ("a", "b"):
        agents[name], jobs[name] = _populate(store, name)
    return World(store, agents, jobs)


Read = Callable[[World], Any]

LISTS: list[Any] = [
    pytest.param(lambda w: list_agents(w.store, "a"), id="list_agents"),
    pytest.param(lambda w: get_agent(w.store, w.agents["a"], "a"), id="get_agent"),
    pytest.param(lambda w: list_software(w.store, w.agents["a"], "a"), id="list_software"),
    pytest.param(lambda w: list_managed(w.store, w.agents["a"], "a"), id="list_managed"),
    pytest.param(lambda w: get_job(w.store, w.jobs["a"], "a"), id="get_job"),
    pytest.param(lambda w: jobs_for_deployment(w.store, "tool", "a"), id="jobs_for_deployment"),
    pytest.param(lambda w: jobs_for_agent(w.store, w.agents["a"], "a")
                 + jobs_for_agent(w.store, w.agents["b"], "a"), id="jobs_for_agent"),
    pytest.param(lambda w: list_job_events(w.store, w.jobs["a"], "a"), id="list_job_events"),
    pytest.param(lambda w: [job for found in latest_jobs(w.store, None, "a").values() for job in found],
                 id="latest_jobs"),
    pytest.param(lambda w: deployment_status(w.store, "tool", "a"), id="deployment_status"),
    pytest.param(lambda w: device_targets(w.store, None, "a"), id="device_targets"),
    pytest.param(lambda w: deployment_summaries(w.store, "a"), id="deployment_summaries"),
    pytest.param(lambda w: list_audit(w.store, "a"), id="list_audit"),
    pytest.param(lambda w: list_tokens(w.store, "a"), id="list_tokens"),
    pytest.param(lambda w: list_packages(w.store, "a"), id="list_packages"),
    pytest.param(lambda w: list_deployments(w.store, "a"), id="list_deployments"),
    pytest.param(lambda w: list_revisions(w.store, client="a"), id="list_revisions"),
]

LOOKUPS: list[Any] = [
    pytest.param(lambda w: get_agent(w.store, w.agents["b"], "a"), id="get_agent"),
    pytest.param(lambda w: list_software(w.store, w.agents["b"], "a"), id="list_software"),
    pytest.param(lambda w: list_managed(w.store, w.agents["b"], "a"), id="list_managed"),
    pytest.param(lambda w: get_job(w.store, w.jobs["b"], "a"), id="get_job"),
    pytest.param(lambda w: list_job_events(w.store, w.jobs["b"], "a"), id="list_job_events"),
    pytest.param(lambda w: get_deployment(w.store, "b.editor", "a"), id="get_deployment"),
]


def _dump(found: Any) -> str:
    items = found if isinstance(found, list) else [found]
    plain = [item.model_dump(mode="json") if hasattr(item, "model_dump") else item for item in items]
    return json.dumps(plain, default=str)


def _markers(world: World, name: str) -> list[str]:
    return [world.agents[name], world.jobs[name], f"host-of-{name}", f"app-of-{name}", f"pkg-of-{name}",
            f"{name}.editor", f"viewer-of-{name}", f"problem-of-{name}", f"failed-on-{name}"]


@pytest.mark.parametrize("read", LISTS)
def test_a_scoped_reader_sees_its_client_and_never_another(world: World, read: Read) -> None:
    seen = _dump(read(world))
    assert any(marker in seen for marker in _markers(world, "a")), seen
    leaked = [marker for marker in _markers(world, "b") if marker in seen]
    assert leaked == [], seen


@pytest.mark.parametrize("read", LOOKUPS)
def test_another_clients_things_are_not_found(world: World, read: Read) -> None:
    with pytest.raises(NotFound):
        read(world)


def test_the_msp_sees_both_clients(world: World) -> None:
    seen = _dump(list_agents(world.store, None)) + _dump(deployment_status(world.store, "tool", None))
    assert all(marker in seen for marker in (world.agents["a"], world.agents["b"]))
