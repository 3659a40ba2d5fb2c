"""The planner's decisions for package deployments, case by case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.observed import FailureRecord
from controller.planning import RetryPolicy, plan
from tests.support.resources import (
    ALL_AT_ONCE,
    NOW,
    agent,
    client,
    deployment,
    desired,
    group,
    observed,
    open_job,
    package,
)


def fleet(*, version: str = "1.0.0", ensure: str = "present", suspend: bool = False):
    return desired([
        (None, client("acme")),
        ("acme", package("hello-tool", version)),
        ("acme", group("linux-boxes", {"os": "linux"})),
        ("acme", deployment("hello-on-linux", "hello-tool", group_name="linux-boxes",
                            ensure=ensure, suspend=suspend, rollout=ALL_AT_ONCE)),
    ])


def test_fresh_device_gets_one_install_job():
    result = plan(fleet(), observed(agent("a1")), NOW)
    assert [(j.agent_id, j.action, j.package, j.version) for j in result.jobs] == [
        ("a1", "install", "hello-tool", "1.0.0")
    ]
    assert result.jobs[0].deployment == "acme.hello-on-linux"
    assert [o.state for o in result.outcomes] == ["pending"]


def test_installed_device_is_converged_and_gets_nothing():
    result = plan(fleet(), observed(agent("a1", managed={"hello-tool": "1.0.0"})), NOW)
    assert result.is_empty
    assert [o.state for o in result.outcomes] == ["converged"]


def test_new_version_upgrades_and_names_the_old_one():
    result = plan(fleet(version="1.1.0"), observed(agent("a1", managed={"hello-tool": "1.0.0"})), NOW)
    (job,) = result.jobs
    assert (job.action, job.version, job.previous_version) == ("upgrade", "1.1.0", "1.0.0")


def test_absent_uninstalls_the_installed_version():
    result = plan(fleet(ensure="absent"), observed(agent("a1", managed={"hello-tool": "0.9"})), NOW)
    (job,) = result.jobs
    assert (job.action, job.version) == ("uninstall", "0.9")


def test_absent_and_not_installed_is_converged():
    result = plan(fleet(ensure="absent"), observed(agent("a1")), NOW)
    assert result.is_empty and result.outcomes[0].state == "converged"


@pytest.mark.parametrize("state", ["queued", "leased", "running"], ids=lambda s: f"open-{s}")
def test_no_second_job_while_an_equivalent_one_is_open(state):
    pending = open_job("j1", "hello-tool", "1.0.0", state=state)
    result = plan(fleet(), observed(agent("a1", open_jobs=[pending])), NOW)
    assert result.is_empty
    assert result.outcomes[0].state == ("pending" if state == "queued" else "running")


def test_queued_job_for_an_old_version_is_cancelled_and_replaced():
    stale = open_job("j1", "hello-tool", "1.0.0", state="queued")
    result = plan(fleet(version="1.1.0"), observed(agent("a1", open_jobs=[stale])), NOW)
    assert [c.job_id for c in result.cancellations] == ["j1"]
    assert [(j.action, j.version) for j in result.jobs] == [("install", "1.1.0")]


def test_leased_job_for_an_old_version_is_waited_for():
    busy = open_job("j1", "hello-tool", "1.0.0", state="leased")
    result = plan(fleet(version="1.1.0"), observed(agent("a1", open_jobs=[busy])), NOW)
    assert result.is_empty
    assert result.outcomes[0].state == "running"
    assert "waiting for job j1" in result.outcomes[0].reason


def test_queued_job_nobody_wants_any_more_is_cancelled():
    orphan = open_job("j9", "old-tool", "2.0", state="queued")
    result = plan(fleet(), observed(agent("a1", managed={"hello-tool": "1.0.0"}, open_jobs=[orphan])), NOW)
    assert [c.job_id for c in result.cancellations] == ["j9"]


def test_device_without_an_installer_for_its_os_is_not_applicable():
    fleet_state = desired([
        (None, client("acme")),
        ("acme", package("hello-tool")),
        ("acme", deployment("everywhere", "hello-tool", devices=["a1"])),
    ])
    result = plan(fleet_state, observed(agent("a1", os="windows")), NOW)
    assert result.is_empty
    assert result.outcomes[0].state == "not-applicable"
    assert "no installer for windows/x86_64" in result.outcomes[0].reason


def test_client_deployment_never_reaches_another_clients_devices():
    fleet_state = desired([
        (None, client("acme")),
        (None, client("globex")),
        (None, package("hello-tool")),
        (None, group("all-linux", {"os": "linux"})),
        ("acme", deployment("hello", "hello-tool", group_name="all-linux", devices=["g1"])),
    ])
    result = plan(fleet_state, observed(agent("a1"), agent("g1", client_name="globex")), NOW)
    assert [j.agent_id for j in result.jobs] == ["a1"]


def test_msp_deployment_reaches_every_client():
    fleet_state = desired([
        (None, package("hello-tool")),
        (None, group("all-linux", {"os": "linux"})),
        (None, deployment("hello", "hello-tool", group_name="all-linux", rollout=ALL_AT_ONCE)),
    ])
    result = plan(fleet_state, observed(agent("a1"), agent("g1", client_name="globex")), NOW)
    assert sorted(j.agent_id for j in result.jobs) == ["a1", "g1"]


def test_client_deployment_overrides_msp_deployment_of_the_same_package():
    fleet_state = desired([
        (None, package("hello-tool")),
        (None, group("all-linux", {"os": "linux"})),
        (None, deployment("hello", "hello-tool", group_name="all-linux")),
        ("acme", deployment("no-hello", "hello-tool", devices=["a1"], ensure="absent")),
    ])
    result = plan(fleet_state, observed(agent("a1", managed={"hello-tool": "1.0.0"})), NOW)
    assert [(j.action, j.deployment) for j in result.jobs] == [("uninstall", "acme.no-hello")]
    states = {o.deployment: o.state for o in result.outcomes}
    assert states == {"hello": "overridden", "acme.no-hello": "pending"}


def test_same_scope_deployments_that_disagree_are_a_conflict():
    fleet_state = desired([
        (None, package("hello-tool")),
        (None, deployment("yes", "hello-tool", devices=["a1"])),
        (None, deployment("no", "hello-tool", devices=["a1"], ensure="absent")),
    ])
    result = plan(fleet_state, observed(agent("a1")), NOW)
    assert result.is_empty
    assert {o.state for o in result.outcomes} == {"conflict"}


def test_suspended_deployment_issues_nothing():
    result = plan(fleet(suspend=True), observed(agent("a1")), NOW)
    assert result.is_empty and result.outcomes[0].state == "suspended"


RETRY = RetryPolicy(max_attempts=3, first_delay=timedelta(minutes=1))


@pytest.mark.parametrize(
    ("failures", "minutes_since", "expect_job", "reason_part"),
    [
        pytest.param(1, 0.5, False, "retrying after", id="first-failure-inside-backoff"),
        pytest.param(1, 1.5, True, "", id="first-failure-backoff-elapsed"),
        pytest.param(2, 1.5, False, "retrying after", id="second-failure-doubles-delay"),
        pytest.param(3, 600, False, "gave up after 3", id="gives-up-at-max-attempts"),
    ],
)
def test_failed_jobs_are_retried_with_backoff(failures, minutes_since, expect_job, reason_part):
    record = FailureRecord(failures=failures, last_failed_at=NOW - timedelta(minutes=minutes_since),
                           reason="sha256 mismatch")
    device = agent("a1", failures={("hello-tool", "1.0.0", "install"): record})
    result = plan(fleet(), observed(device), NOW, retry=RETRY)
    assert bool(result.jobs) is expect_job
    if not expect_job:
        assert result.outcomes[0].state == "failed"
        assert reason_part in result.outcomes[0].reason


@pytest.mark.parametrize(
    ("failures", "deferrals", "minutes_since", "expect_job", "state", "reason_part"),
    [
        pytest.param(0, 1, 5, False, "retry-later", "asked to retry later", id="inside-the-agents-delay"),
        pytest.param(0, 1, 11, True, "pending", "", id="delay-elapsed"),
        pytest.param(2, 1, 11, True, "pending", "", id="earlier-failures-do-not-add-backoff"),
        pytest.param(0, 48, 11, False, "failed", "gave up after 48", id="gives-up-after-max-deferrals"),
    ],
)
def test_retry_later_waits_for_the_agents_delay(failures, deferrals, minutes_since, expect_job, state, reason_part):
    record = FailureRecord(failures=failures, last_failed_at=NOW - timedelta(minutes=minutes_since),
                           reason="1618: another installation is in progress", deferrals=deferrals,
                           retry_at=NOW - timedelta(minutes=minutes_since) + timedelta(minutes=10))
    device = agent("a1", failures={("hello-tool", "1.0.0", "install"): record})
    result = plan(fleet(), observed(device), NOW, retry=RETRY)
    assert bool(result.jobs) is expect_job
    assert result.outcomes[0].state == state
    assert reason_part in result.outcomes[0].reason


def test_a_new_version_starts_fresh_after_giving_up():
    record = FailureRecord(failures=5, last_failed_at=NOW, reason="broken")
    device = agent("a1", failures={("hello-tool", "1.0.0", "install"): record})
    result = plan(fleet(version="1.0.1"), observed(device), NOW, retry=RETRY)
    assert [j.version for j in result.jobs] == ["1.0.1"]


def test_only_agents_limits_the_plan_but_not_targeting():
    result = plan(fleet(), observed(agent("a1"), agent("a2")), NOW, only_agents={"a2"})
    assert [j.agent_id for j in result.jobs] == ["a2"]


def test_plan_lists_deployments_that_target_nobody():
    result = plan(fleet(), observed(), NOW)
    assert result.deployments == ("acme.hello-on-linux",) and not result.outcomes


def test_arch_specific_installer_wins_over_any_arch():
    from tests.support.resources import resource
    pkg = resource("Package", "tool", {"version": "1", "installers": [
        {"os": "linux", "type": "archive", "url": "https://x/any.tar", "sha256": "1" * 64},
        {"os": "linux", "arch": "aarch64", "type": "archive", "url": "https://x/arm.tar",
         "sha256": "2" * 64},
    ]})
    fleet_state = desired([(None, pkg), (None, deployment("d", "tool", devices=["a1", "a2"], rollout=ALL_AT_ONCE))])
    result = plan(fleet_state, observed(agent("a1", arch="aarch64"), agent("a2")), NOW)
    urls = {j.agent_id: j.installer.url for j in result.jobs}
    assert urls == {"a1": "https://x/arm.tar", "a2": "https://x/any.tar"}
