"""Properties of the planner over generated fleets (hypothesis).

1. Applying plans (every job succeeds) to the observed state, one pass per rollout wave,
   yields the desired state, and planning again then emits nothing.
2. Planning again while the plan's jobs are still open emits nothing (no second
   job while an equivalent one is pending).
3. The planner is deterministic.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.desired import DesiredState
from controller.observed import ObservedAgent, ObservedState, OpenJob
from controller.planning import Plan, plan
from schemas.ids import JobId
from tests.support.resources import NOW, agent, client, deployment, desired, group, package

CLIENTS = ["acme", "globex"]
OSES = ["linux", "windows", "macos"]
PACKAGES = ["p1", "p2", "p3"]
VERSIONS = ["1.0", "2.0"]


@st.composite
def fleets(draw: st.DrawFn) -> tuple[DesiredState, ObservedState]:
    items = [(None, client(name)) for name in CLIENTS]
    package_scope = {}
    for name in PACKAGES:
        if draw(st.booleans()):
            scope = draw(st.sampled_from([None, *CLIENTS]))
            package_scope[name] = scope
            items.append((scope, package(name, draw(st.sampled_from(VERSIONS)),
                                         os=draw(st.sampled_from(OSES)))))
    groups = {}
    for index in range(draw(st.integers(0, 3))):
        scope = draw(st.sampled_from([None, *CLIENTS]))
        name = f"g{index}"
        labels = draw(st.sampled_from([{"os": "linux"}, {"tier": "gold"}, {}]))
        groups[name] = scope
        items.append((scope, group(name, labels)))
    used = set()
    for index in range(draw(st.integers(0, 4))):
        if not package_scope:
            break
        pkg = draw(st.sampled_from(sorted(package_scope)))
        pkg_scope = package_scope[pkg]
        scope = pkg_scope if pkg_scope is not None else draw(st.sampled_from([None, *CLIENTS]))
        visible = [g for g, s in groups.items() if s is None or s == scope]
        group_name = draw(st.sampled_from(visible)) if visible and draw(st.booleans()) else None
        devices = draw(st.lists(st.sampled_from([f"a{i}" for i in range(6)]), max_size=3))
        if group_name is None and not devices:
            devices = ["a0"]
        name = f"d{index}"
        if (scope, name) in used:
            continue
        used.add((scope, name))
        items.append((scope, deployment(name, pkg, group_name=group_name, devices=devices,
                                        ensure=draw(st.sampled_from(["present", "absent"])),
                                        suspend=draw(st.booleans()) and draw(st.booleans()))))
    agents = []
    for index in range(draw(st.integers(0, 6))):
        managed = draw(st.dictionaries(st.sampled_from(PACKAGES), st.sampled_from(VERSIONS), max_size=3))
        labels = {"tier": "gold"} if draw(st.booleans()) else {}
        agents.append(agent(f"a{index}", draw(st.sampled_from(CLIENTS)), os=draw(st.sampled_from(OSES)),
                            managed=managed, labels=labels))
    return desired(items), ObservedState(agents={a.agent_id: a for a in agents})


def apply_succeeded(observed: ObservedState, result: Plan) -> ObservedState:
    """What the fleet looks like once every job of ``result`` succeeded."""
    agents = dict(observed.agents)
    cancelled = {c.job_id for c in result.cancellations}
    for agent_id, state in agents.items():
        managed = dict(state.managed)
        for job in result.jobs:
            if job.agent_id != agent_id:
                continue
            if job.action == "uninstall":
                managed.pop(job.package, None)
            else:
                managed[job.package] = job.version
        open_jobs = tuple(j for j in state.open_jobs if j.job_id not in cancelled)
        agents[agent_id] = replace(state, managed=managed, open_jobs=open_jobs)
    return ObservedState(agents=agents, rollouts={report.deployment: report.state for report in result.rollouts})


def with_open_jobs(observed: ObservedState, result: Plan) -> ObservedState:
    agents: dict = dict(observed.agents)
    for index, job in enumerate(result.jobs):
        state: ObservedAgent = agents[job.agent_id]
        issued = OpenJob(job_id=JobId(f"j{index}"), action=job.action, package=job.package,
                         version=job.version, deployment=job.deployment, state="queued",
                         created_at=NOW)
        agents[job.agent_id] = replace(state, open_jobs=(*state.open_jobs, issued))
    return ObservedState(agents=agents)


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(fleets())
def test_applied_plan_reaches_desired_state_and_replanning_is_empty(fleet):
    desired_state, observed_state = fleet
    after = observed_state
    for _wave in range(5):  # the default rollout has four waves; each pass starts the next
        after = apply_succeeded(after, plan(desired_state, after, NOW))
    second = plan(desired_state, after, NOW)
    assert second.jobs == () and second.cancellations == ()
    for outcome in second.outcomes:
        assert outcome.state in {"converged", "not-applicable", "conflict", "overridden", "suspended"}
        if outcome.state == "converged":
            installed = after.agents[outcome.agent_id].managed.get(outcome.package)
            expected = outcome.version if outcome.ensure == "present" else None
            assert installed == expected


@PROPERTY_SETTINGS
@given(fleets())
def test_open_jobs_are_never_issued_twice(fleet):
    desired_state, observed_state = fleet
    first = plan(desired_state, observed_state, NOW)
    again = plan(desired_state, with_open_jobs(observed_state, first), NOW)
    assert again.jobs == () and again.cancellations == ()
    assert {o.state for o in again.outcomes} <= {  # "waiting": in a later rollout wave
        "converged", "pending", "not-applicable", "conflict", "overridden", "suspended", "waiting"}


@PROPERTY_SETTINGS
@given(fleets())
def test_planning_is_deterministic(fleet):
    desired_state, observed_state = fleet
    assert plan(desired_state, observed_state, NOW) == plan(desired_state, observed_state, NOW)


@PROPERTY_SETTINGS
@given(fleets())
def test_client_resources_act_only_on_their_clients_devices(fleet):
    desired_state, observed_state = fleet
    result = plan(desired_state, observed_state, NOW)
    for job in result.jobs:
        scope, dot, _name = job.deployment.rpartition(".")
        if dot:
            assert observed_state.agents[job.agent_id].client == scope
