"""Staged rollouts in the planner: waves, thresholds, soak, offline devices, halts, windows, rollback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.observed import FailureRecord, ObservedState, PriorVersion, RolloutState
from controller.planning import Plan, plan
from controller.planning.rollouts import DeviceStanding, device_hash, evaluate, wave_sizes
from schemas.packages import parse_installer
from schemas.rollouts import Rollout
from tests.support.resources import NOW, agent, client, deployment, desired, package, resource

AGENTS = [f"a{index:02d}" for index in range(20)]
REF = "acme.tool-everywhere"


def fleet(version: str = "2.0", *, rollout: dict | None = None, window: dict | None = None,
          client_spec: dict | None = None):
    return desired([
        (None, client("acme", **(client_spec or {}))),
        ("acme", package("tool", version)),
        ("acme", deployment("tool-everywhere", "tool", devices=AGENTS, rollout=rollout, window=window)),
    ])


def fleet_state(managed: dict[str, str] | None = None, **overrides) -> ObservedState:
    agents = {}
    for agent_id in AGENTS:
        installed = (managed or {}).get(agent_id)
        agents[agent_id] = agent(agent_id, managed={"tool": installed} if installed else {}, **overrides)
    return ObservedState(agents=agents)


def carried(observed: ObservedState, result: Plan, **changes) -> ObservedState:
    return replace(observed, rollouts={report.deployment: report.state for report in result.rollouts}, **changes)


def succeed(observed: ObservedState, result: Plan, version: str = "2.0") -> ObservedState:
    agents = dict(observed.agents)
    for job in result.jobs:
        agents[job.agent_id] = replace(agents[job.agent_id], managed={"tool": version})
    return carried(observed, result, agents=agents)


def test_default_rollout_starts_with_one_canary_then_10_50_100_percent() -> None:
    observed = fleet_state()
    issued: list[int] = []
    for _pass in range(5):
        result = plan(fleet(), observed, NOW)
        issued.append(len(result.jobs))
        observed = succeed(observed, result)
    assert issued == [1, 1, 8, 10, 0]  # cumulative waves of 1, 2 (10 % of 20), 10 (50 %), 20
    (report,) = result.rollouts
    assert report.state.completed and report.state.wave == 3
    assert {o.state for o in result.outcomes} == {"converged"}


def test_wave_membership_is_stable_and_held_devices_say_which_wave() -> None:
    result = plan(fleet(), fleet_state(), NOW)
    (canary,) = result.jobs
    assert canary.agent_id == min(AGENTS, key=lambda a: device_hash(REF, a))
    again = plan(fleet(), carried(fleet_state(), result), NOW + timedelta(minutes=1))
    waiting = [o for o in again.outcomes if o.state == "waiting"]
    assert len(waiting) == 19 and all(o.wave in (2, 3, 4) for o in waiting)
    assert "wave 1 is active" in waiting[0].reason


def test_a_failed_canary_halts_the_rollout_and_nothing_more_is_issued() -> None:
    first = plan(fleet(), fleet_state(), NOW)
    (canary,) = first.jobs
    failed = fleet_state()
    agents = dict(failed.agents)
    agents[canary.agent_id] = replace(agents[canary.agent_id], failures={
        ("tool", "2.0", "install"): FailureRecord(1, NOW, "exit code 1")})
    later = NOW + timedelta(hours=2)  # the retry backoff has long passed: still no retry
    halted = plan(fleet(), carried(failed, first, agents=agents), later)
    assert halted.jobs == ()
    (report,) = halted.rollouts
    assert report.state.halted and "1 of 1 devices failed" in report.state.reason
    assert [t.kind for t in report.transitions] == ["halted"]
    assert {o.state for o in halted.outcomes} == {"halted"}


def test_a_canary_told_to_retry_later_does_not_halt_and_gets_its_job_again() -> None:
    first = plan(fleet(), fleet_state(), NOW)
    (canary,) = first.jobs
    busy = fleet_state()
    agents = dict(busy.agents)
    agents[canary.agent_id] = replace(agents[canary.agent_id], failures={
        ("tool", "2.0", "install"): FailureRecord(0, NOW, "exit code 1618: another installation is in progress",
                                                  deferrals=1, retry_at=NOW + timedelta(minutes=10))})
    waiting = plan(fleet(), carried(busy, first, agents=agents), NOW + timedelta(minutes=5))
    (report,) = waiting.rollouts
    assert not report.state.halted and (report.waves[0].failed, report.waves[0].in_progress) == (0, 1)
    assert waiting.jobs == ()
    [held] = [o for o in waiting.outcomes if o.agent_id == canary.agent_id]
    assert held.state == "retry-later" and "retrying after" in held.reason
    again = plan(fleet(), carried(busy, waiting, agents=agents), NOW + timedelta(minutes=11))
    assert [job.agent_id for job in again.jobs] == [canary.agent_id]


def test_a_new_revision_of_the_deployment_resumes_a_halted_rollout() -> None:
    halted = RolloutState(digest="old", wave=1, started_at=(NOW, NOW), halted=True, reason="too many failures")
    result = plan(fleet("2.1"), replace(fleet_state(), rollouts={REF: halted}), NOW)
    (report,) = result.rollouts
    assert not report.state.halted and report.state.wave == 0 and len(result.jobs) == 1
    assert [t.kind for t in report.transitions] == ["started"]


def test_soak_time_holds_the_next_wave() -> None:
    rollout = {"waves": [{"devices": 1}, {"percent": 100}], "soakMinutes": 60}
    observed = fleet_state()
    first = plan(fleet(rollout=rollout), observed, NOW)
    observed = succeed(observed, first)
    soaking = plan(fleet(rollout=rollout), observed, NOW + timedelta(minutes=1))
    assert soaking.jobs == () and soaking.rollouts[0].state.met_at == NOW + timedelta(minutes=1)
    observed = carried(observed, soaking)
    assert plan(fleet(rollout=rollout), observed, NOW + timedelta(minutes=30)).jobs == ()
    assert len(plan(fleet(rollout=rollout), observed, NOW + timedelta(minutes=62)).jobs) == 19


def standings(results: dict[str, str], offline: frozenset[str] = frozenset()) -> list[DeviceStanding]:
    return [DeviceStanding(agent_id, results.get(agent_id, "open"), agent_id in offline)  # type: ignore[arg-type]
            for agent_id in AGENTS]


def ordered() -> list[str]:
    return sorted(AGENTS, key=lambda agent_id: device_hash(REF, agent_id))


def test_offline_devices_count_neither_way_and_time_out() -> None:
    policy = Rollout.model_validate({"waves": [{"percent": 50}, {"percent": 100}], "successThreshold": 100,
                                     "offlineTimeoutMinutes": 60})
    first_wave = ordered()[:10]
    state = evaluate(REF, policy, None, "d", standings({}), NOW).state
    results = dict.fromkeys(first_wave[:8], "success")
    offline = frozenset(first_wave[8:])
    held = evaluate(REF, policy, state, "d", standings(results, offline), NOW + timedelta(minutes=30))
    assert held.state.wave == 0 and not held.state.halted
    assert (held.waves[0].succeeded, held.waves[0].offline, held.waves[0].failed) == (8, 2, 0)
    timed_out = evaluate(REF, policy, held.state, "d", standings(results, offline), NOW + timedelta(minutes=61))
    assert timed_out.state.wave == 1
    assert timed_out.waves[0].skipped == 2


@pytest.mark.parametrize(("failed", "halts"), [(1, False), (2, True)], ids=["at-threshold", "past-threshold"])
def test_failures_past_the_threshold_halt(failed: int, halts: bool) -> None:
    policy = Rollout.model_validate({"waves": [{"percent": 50}, {"percent": 100}], "failureThreshold": 10})
    first_wave = ordered()[:10]
    results = dict.fromkeys(first_wave, "success") | dict.fromkeys(first_wave[:failed], "failure")
    report = evaluate(REF, policy, None, "d", standings(results), NOW)
    assert report.state.halted is halts


def test_jobs_carry_the_window_in_the_clients_time_zone() -> None:
    rollout = {"waves": [{"percent": 100}]}
    result = plan(fleet(rollout=rollout, client_spec={"timezone": "Europe/Berlin",
                                                      "deploymentWindow": {"cron": "0 22 * * *",
                                                                           "durationMinutes": 120}}),
                  fleet_state(), NOW)
    assert len(result.jobs) == 20
    assert {(j.not_before, j.not_after) for j in result.jobs} == {
        (datetime(2026, 11, 27, 21, 0, tzinfo=UTC), datetime(2026, 11, 27, 23, 0, tzinfo=UTC))}
    assert "installs in the window opening 2026-11-27T21:00" in result.outcomes[0].reason


def test_a_window_far_ahead_issues_nothing_yet_and_the_deployment_overrides_the_client() -> None:
    client_window = {"deploymentWindow": {"cron": "0 22 * * *", "durationMinutes": 120}}
    far = {"cron": "0 3 1 1 *", "durationMinutes": 60, "timezone": "UTC"}  # New Year only
    result = plan(fleet(rollout={"waves": [{"percent": 100}]}, window=far, client_spec=client_window),
                  fleet_state(), NOW)
    assert result.jobs == ()
    assert {o.state for o in result.outcomes} == {"scheduled"}
    assert "opening 2027-01-01T03:00" in result.outcomes[0].reason


@pytest.mark.parametrize("named_by", [pytest.param("deployment", id="the-deployment-names-it"),
                                      pytest.param("client", id="the-clients-default-names-it")])
def test_a_named_maintenance_window_is_resolved_like_an_inline_one(named_by: str) -> None:
    nights = resource("MaintenanceWindow", "nights", {"cron": "0 22 * * *", "durationMinutes": 120})
    msp_nights = resource("MaintenanceWindow", "nights", {"cron": "0 3 * * *", "durationMinutes": 60})
    rollout = {"waves": [{"percent": 100}]}
    state = desired([
        (None, client("acme", timezone="Europe/Berlin", **({"deploymentWindow": "nights"}
                                                             if named_by == "client" else {}))),
        ("acme", nights),
        (None, msp_nights),  # the client's own window of that name comes first
        ("acme", package("tool", "2.0")),
        ("acme", deployment("tool-everywhere", "tool", devices=AGENTS, rollout=rollout,
                            window="nights" if named_by == "deployment" else None)),
    ])
    result = plan(state, fleet_state(), NOW)
    assert {(j.not_before, j.not_after) for j in result.jobs} == {
        (datetime(2026, 11, 27, 21, 0, tzinfo=UTC), datetime(2026, 11, 27, 23, 0, tzinfo=UTC))}


def test_rollback_returns_touched_devices_to_their_prior_versions() -> None:
    old = parse_installer({"os": "linux", "type": "archive", "url": "https://a.example/tool-1.0.tar.gz",
                           "sha256": "1" * 64})
    managed = {"a00": "2.0", "a01": "2.0", "a02": "1.0"}
    state = RolloutState(digest="", wave=1, started_at=(NOW, NOW), halted=True, rolled_back=True,
                         reason="rolled back by t_ops")
    first = plan(fleet(), fleet_state(managed), NOW)
    state = replace(state, digest=first.rollouts[0].state.digest)
    observed = replace(fleet_state(managed), rollouts={REF: state}, rollback={
        REF: {"a00": PriorVersion("1.0", old), "a01": PriorVersion(None, None)}})
    result = plan(fleet(), observed, NOW)
    jobs = {(j.agent_id, j.action, j.version) for j in result.jobs}
    assert jobs == {("a00", "upgrade", "1.0"), ("a01", "uninstall", "2.0")}
    by_agent = {o.agent_id: o for o in result.outcomes}
    assert by_agent["a02"].state == "halted" and "not touched" in by_agent["a02"].reason
    done = replace(observed, agents={**observed.agents,
                                     "a00": replace(observed.agents["a00"], managed={"tool": "1.0"}),
                                     "a01": replace(observed.agents["a01"], managed={})})
    after = plan(fleet(), done, NOW)
    assert after.jobs == ()
    assert {after_o.agent_id: after_o.state for after_o in after.outcomes if after_o.agent_id in ("a00", "a01")} \
        == {"a00": "rolled-back", "a01": "rolled-back"}


@settings(max_examples=150, deadline=None)
@given(total=st.integers(0, 500), waves=st.lists(st.one_of(
    st.builds(lambda n: {"devices": n}, st.integers(1, 600)),
    st.builds(lambda p: {"percent": p}, st.integers(1, 100))), max_size=5))
def test_wave_sizes_grow_and_end_at_everything(total: int, waves: list[dict[str, int]]) -> None:
    policy = Rollout.model_validate({"waves": [*waves, {"percent": 100}]})
    sizes = wave_sizes(policy, total)
    assert sizes == sorted(sizes) and sizes[-1] == total and all(0 <= size <= total for size in sizes)


@settings(max_examples=100, deadline=None)
@given(results=st.lists(st.sampled_from(["success", "failure", "open", "excluded"]), min_size=20, max_size=20),
       offline=st.sets(st.sampled_from(AGENTS)), minutes=st.integers(0, 600))
def test_evaluation_is_deterministic_and_never_skips_a_wave_past_failures(
        results: list[str], offline: set[str], minutes: int) -> None:
    policy = Rollout()
    by_agent = dict(zip(AGENTS, results, strict=True))
    now = NOW + timedelta(minutes=minutes)
    one = evaluate(REF, policy, None, "d", standings(by_agent, frozenset(offline)), now)
    two = evaluate(REF, policy, None, "d", list(reversed(standings(by_agent, frozenset(offline)))), now)
    assert one == two
    reached = one.state.wave
    covered = ordered()[:wave_sizes(policy, len(AGENTS))[max(reached - 1, 0)]]
    counted = [by_agent[a] for a in covered if by_agent[a] != "excluded"]
    if reached > 0:  # every wave it left behind was under the failure threshold
        assert counted.count("failure") * 100 <= policy.failure_threshold * len(counted) or not counted


def test_a_plan_report_names_the_devices_later_waves_hold() -> None:
    from controller.reports.plans import plan_json, render_plan

    result = plan(fleet(), fleet_state(), NOW)
    hostnames = {agent_id: f"host-{agent_id}" for agent_id in AGENTS}
    text = render_plan(result, "text", hostnames=hostnames, devices=20)
    assert "install on 19 more devices (in a later rollout wave)" in text
    (held,) = plan_json(result, hostnames=hostnames, devices=20)["held"]
    assert (held["state"], held["action"], held["device_count"]) == ("waiting", "install", 19)
