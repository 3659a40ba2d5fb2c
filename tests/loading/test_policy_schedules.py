"""A Policy's schedule (interval or cron with a time zone) and event triggers: good ones load with
the defaults of before, bad ones are refused at the offending node (path:line:col)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller.loading import DirectorySource, load_revision
from schemas.policies import Policy
from tests.support.fleets import LINUX_GROUP
from tests.support.gitrepos import write_files

ProblemsOf = Callable[[dict[str, str | bytes | None]], list[str]]

HEAD = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: baseline}
spec:
  targets: {group: linux-boxes}
  checks:
    - {name: motd, type: file, path: /etc/motd}
"""


def with_spec(extra: str) -> dict[str, str | bytes | None]:
    return {"clients/acme/g.yaml": LINUX_GROUP, "clients/acme/policy.yaml": HEAD + extra}


CASES = {
    "every-and-cron": (
        "  schedule: {every: 4h, cron: '0 7 * * *'}\n",
        "clients/acme/policy.yaml:8:13: a schedule has either 'every' (an interval) or 'cron', not both"),
    "cron-with-four-fields": (
        "  schedule: {cron: '0 7 * *'}\n",
        "clients/acme/policy.yaml:8:20: invalid cron expression: '0 7 * *' has 4 fields; write five: "
        "minute hour day-of-month month day-of-week, e.g. '0 22 * * 1-5' (22:00 on weekdays)"),
    "minute-out-of-range": (
        "  schedule:\n    cron: '61 7 * * *'\n",
        "clients/acme/policy.yaml:9:11: invalid cron expression: minute: '61' is outside 0-59 "
        "(or the range is reversed)"),
    "cron-that-never-fires": (
        "  schedule: {cron: '0 0 30 2 *'}\n",
        "clients/acme/policy.yaml:8:20: the cron expression '0 0 30 2 *' never fires (no such date); "
        "check day and month"),
    "unknown-timezone": (
        "  schedule: {cron: '0 7 * * *', timezone: Mars/Olympus}\n",
        "clients/acme/policy.yaml:8:43: unknown time zone 'Mars/Olympus'; use an IANA name such as "
        "'Europe/Berlin' or 'UTC'"),
    "timezone-without-cron": (
        "  schedule: {every: 4h, timezone: Europe/Berlin}\n",
        "clients/acme/policy.yaml:8:13: 'timezone' applies to 'cron' times only; remove it or add 'cron'"),
    "bad-interval": (
        "  schedule: {every: 90s}\n",
        "clients/acme/policy.yaml:8:21: 'every' must match ^[1-9][0-9]{0,3}[mhd]$, got '90s'"),
    "alert-type-no-agent-raises": (
        "  triggers:\n    alertTypes: [agent.disk, controller.rollout-halted]\n",
        "clients/acme/policy.yaml:9:30: no alert an agent raises matches 'controller.rollout-halted'; agents "
        "raise agent.cpu, agent.memory, agent.disk, agent.process, agent.service, agent.reboot"),
    "alert-types-with-alerts-off": (
        "  triggers: {alertRaised: false, alertTypes: [agent.disk]}\n",
        "clients/acme/policy.yaml:8:13: 'alertTypes' filters alert triggers, but 'alertRaised' is false; "
        "remove one"),
    "run-now-cannot-be-turned-off": (
        "  triggers: {runNow: false}\n",
        "clients/acme/policy.yaml:8:14: unknown field 'runNow'"),
}


@pytest.mark.parametrize(("extra", "expected"), list(CASES.values()), ids=list(CASES))
def test_a_bad_schedule_or_trigger_is_refused_where_it_is(problems_of: ProblemsOf, extra: str,
                                                           expected: str) -> None:
    problems = problems_of(with_spec(extra))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def load(tmp_path, extra: str) -> Policy:
    write_files(tmp_path, {"clients/acme/client.yaml": "apiVersion: fleetward/v1\nkind: Client\n"
                           "metadata: {name: acme}\nspec: {displayName: ACME}\n", **with_spec(extra)})
    (loaded,) = load_revision(DirectorySource(tmp_path)).of_kind(Policy).values()
    return loaded.resource


def test_without_schedule_or_triggers_a_policy_runs_hourly_and_on_every_event(tmp_path) -> None:
    spec = load(tmp_path, "").spec
    assert (spec.schedule.interval, spec.schedule.cron, spec.schedule.timezone) == ("1h", None, None)
    triggers = spec.triggers
    assert (triggers.agent_start, triggers.alert_raised, triggers.inventory_changed, triggers.job_finished) == (
        True, True, True, True)
    assert triggers.alert_types == [] and triggers.fires_on_alerts(frozenset({"agent.cpu"}))


def test_cron_with_a_zone_and_chosen_triggers_load(tmp_path) -> None:
    spec = load(tmp_path, "  schedule: {cron: '30 6 * * 1-5', timezone: America/New_York}\n"
                          "  triggers: {agentStart: false, alertTypes: ['agent.d*', agent.service],"
                          " inventoryChanged: false}\n").spec
    assert (spec.schedule.interval, spec.schedule.cron, spec.schedule.timezone) == (
        None, "30 6 * * 1-5", "America/New_York")
    triggers = spec.triggers
    assert not triggers.agent_start and not triggers.inventory_changed and triggers.job_finished
    assert triggers.fires_on_alerts(frozenset({"agent.disk"}))
    assert triggers.fires_on_alerts(frozenset({"agent.cpu", "agent.service"}))
    assert not triggers.fires_on_alerts(frozenset({"agent.cpu"}))
    assert not triggers.fires_on_alerts(frozenset())
