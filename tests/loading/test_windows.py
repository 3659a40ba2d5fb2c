"""Maintenance windows and rollouts in the fleet repo: bad ones are refused at the offending node."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.fleets import LINUX_GROUP, deployment_yaml, package_yaml

ProblemsOf = Callable[[dict[str, str | bytes | None]], list[str]]


def with_spec(extra: str) -> dict[str, str | bytes | None]:
    return {"clients/acme/p.yaml": package_yaml(), "clients/acme/g.yaml": LINUX_GROUP,
            "clients/acme/d.yaml": deployment_yaml() + extra}


CASES = {
    "unknown-timezone": (
        "  window: {cron: '0 22 * * 1-5', durationMinutes: 120, timezone: Mars/Olympus}\n",
        "clients/acme/d.yaml:8:66: unknown time zone 'Mars/Olympus'; use an IANA name such as "
        "'Europe/Berlin' or 'UTC'"),
    "cron-with-four-fields": (
        "  window: {cron: '0 22 * *', durationMinutes: 120}\n",
        "clients/acme/d.yaml:8:18: invalid cron expression: '0 22 * *' has 4 fields; write five: "
        "minute hour day-of-month month day-of-week, e.g. '0 22 * * 1-5' (22:00 on weekdays)"),
    "hour-out-of-range": (
        "  window: {cron: '0 25 * * *', durationMinutes: 60}\n",
        "clients/acme/d.yaml:8:18: invalid cron expression: hour: '25' is outside 0-23 "
        "(or the range is reversed)"),
    "last-wave-not-everything": (
        "  rollout: {waves: [{devices: 1}, {percent: 50}]}\n",
        "clients/acme/d.yaml:8:12: the last wave must be 'percent: 100' so every target is reached "
        "(e.g. waves: [{devices: 1}, {percent: 10}, {percent: 100}])"),
    "wave-with-both-measures": (
        "  rollout: {waves: [{devices: 1, percent: 5}, {percent: 100}]}\n",
        "clients/acme/d.yaml:8:21: a wave has either 'devices' (a count) or 'percent' (1-100), not both"),
}


@pytest.mark.parametrize(("extra", "expected"), list(CASES.values()), ids=list(CASES))
def test_bad_window_or_rollout_is_refused_where_it_is(problems_of: ProblemsOf, extra: str, expected: str) -> None:
    assert problems_of(with_spec(extra)) == [expected]


def test_good_window_rollout_and_client_default_load(problems_of: ProblemsOf) -> None:
    files = with_spec("  window: {cron: '30 1 * * 6,0', durationMinutes: 180, timezone: Europe/Berlin}\n"
                      "  rollout: {waves: [{devices: 2}, {percent: 100}], soakMinutes: 60}\n")
    files["clients/acme/client.yaml"] = (
        "apiVersion: fleetward/v1\nkind: Client\nmetadata: {name: acme}\n"
        "spec:\n  displayName: ACME\n  deploymentWindow: {cron: '0 22 * * *', durationMinutes: 240}\n")
    assert problems_of(files) == []


NIGHTS = ("apiVersion: fleetward/v1\nkind: MaintenanceWindow\nmetadata: {name: weekday-nights}\n"
          "spec: {cron: '0 22 * * 1-5', durationMinutes: 240}\n")
CLIENT_NAMING = ("apiVersion: fleetward/v1\nkind: Client\nmetadata: {name: acme}\n"
                 "spec:\n  displayName: ACME\n  deploymentWindow: {window}\n")


@pytest.mark.parametrize("where", [pytest.param("windows/nights.yaml", id="msp-wide"),
                                   pytest.param("clients/acme/nights.yaml", id="the-clients-own")])
def test_clients_and_deployments_may_name_a_maintenance_window(problems_of: ProblemsOf, where: str) -> None:
    files = with_spec("  window: weekday-nights\n")
    files[where] = NIGHTS
    files["clients/acme/client.yaml"] = CLIENT_NAMING.replace("{window}", "weekday-nights")
    assert problems_of(files) == []


def test_an_unknown_window_name_is_refused_where_it_is_written(problems_of: ProblemsOf) -> None:
    files = with_spec("  window: weekday-night\n")
    files["windows/nights.yaml"] = NIGHTS
    files["clients/acme/client.yaml"] = CLIENT_NAMING.replace("{window}", "weekends")
    assert problems_of(files) == [
        "clients/acme/client.yaml:6:21: no MaintenanceWindow 'weekends' in clients/acme/ or MSP-wide",
        "clients/acme/d.yaml:8:11: no MaintenanceWindow 'weekday-night' in clients/acme/ or MSP-wide "
        "(did you mean 'weekday-nights'?)",
    ]


def test_another_clients_window_is_out_of_reach(problems_of: ProblemsOf) -> None:
    files = with_spec("  window: weekday-nights\n")
    files["clients/globex/client.yaml"] = ("apiVersion: fleetward/v1\nkind: Client\nmetadata: {name: globex}\n"
                                           "spec: {displayName: Globex}\n")
    files["clients/globex/nights.yaml"] = NIGHTS
    assert problems_of(files) == [
        "clients/acme/d.yaml:8:11: no MaintenanceWindow 'weekday-nights' in clients/acme/ or MSP-wide"]


def test_a_maintenance_window_is_checked_like_an_inline_one(problems_of: ProblemsOf) -> None:
    files = with_spec("")
    files["windows/mars.yaml"] = NIGHTS.replace("durationMinutes: 240", "durationMinutes: 240, timezone: Mars/X")
    assert problems_of(files) == [
        "windows/mars.yaml:4:62: unknown time zone 'Mars/X'; use an IANA name such as 'Europe/Berlin' or 'UTC'"]
