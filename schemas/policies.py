"""``Policy``: checks (and remediation) that must hold on a set of devices.

Checks inline (any type of :mod:`schemas.checks`), or a template with parameters; audit or
enforce; when it is evaluated: a :class:`Schedule` (an interval, or a cron expression read in a time
zone on the agent's clock) and :class:`Triggers` (agent start, alert raised, inventory change, a
finished job). A changed policy and an operator's run-now always run it.

Inheritance: an MSP-wide Policy is a *baseline*; a Policy in a client's folder with ``overrides``
changes it for that client's devices (what it sets replaces the baseline's, ``params`` and
``checks`` by name; the rest is inherited) and adds no targets of its own. ``exclude`` (in a
baseline, an override or any Policy) takes devices, groups or a label selector out of its targets.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, JsonValue, StringConstraints, field_validator, model_validator

from schemas.checks import Check
from schemas.cron import CronError, next_start, parse_cron
from schemas.deployments import Targets
from schemas.groups import LabelSelector
from schemas.monitoring import MonitorName
from schemas.resources import DnsLabel, Resource, SpecModel, register_kind
from schemas.timezones import TimeZoneName

DEFAULT_EVERY = "1h"
AGENT_ALERT_TYPES = tuple(f"agent.{monitor}" for monitor in get_args(MonitorName))
"""The alert types an agent raises itself (``agent.<monitor>``): the only ones it can react to."""

Interval = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,3}[mhd]$")]


@lru_cache(maxsize=256)
def _type_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def alert_type_matches(pattern: str, alert_type: str) -> bool:
    """Whether ``alert_type`` matches ``pattern``, where only ``*`` is special (any run of characters),
    as in an AlertTicketRule's ``alertTypes``."""
    return _type_pattern(pattern).fullmatch(alert_type) is not None


def _raised_by_agents(pattern: str) -> str:
    if not any(alert_type_matches(pattern, known) for known in AGENT_ALERT_TYPES):
        raise ValueError(f"no alert an agent raises matches {pattern!r}; agents raise " + ", ".join(AGENT_ALERT_TYPES))
    return pattern


AgentAlertPattern = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:*-]+$"),
    AfterValidator(_raised_by_agents)]


class Schedule(SpecModel):
    """When a policy is evaluated without an event: ``every`` (an interval) or ``cron``, not both.

    Neither means every hour. Cron times are wall-clock times in ``timezone`` (default: the
    device's client's timezone), checked by the agent against its own clock; slots missed while
    the agent was off run once when it is back, not once per slot.
    """

    every: Interval | None = Field(default=None, description="Evaluate this often: 30m, 4h, 1d (default 1h).")
    cron: str | None = Field(default=None, max_length=200,
                             description="Five-field cron (minute hour day-of-month month day-of-week), "
                                         "e.g. '0 7 * * 1-5' (07:00 on weekdays).")
    timezone: TimeZoneName | None = Field(
        default=None, description="IANA zone of the cron times; default: the device's client's timezone.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = parse_cron(value)
        except CronError as error:
            raise ValueError(f"invalid cron expression: {error}") from None
        if next_start(parsed, ZoneInfo("UTC"), datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise ValueError(f"the cron expression {value!r} never fires (no such date); check day and month")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if self.every is not None and self.cron is not None:
            raise ValueError("a schedule has either 'every' (an interval) or 'cron', not both")
        if self.timezone is not None and self.cron is None:
            raise ValueError("'timezone' applies to 'cron' times only; remove it or add 'cron'")
        return self

    @property
    def interval(self) -> str | None:
        """The interval in force: ``every``, the default hour, or None under ``cron``."""
        if self.cron is not None:
            return None
        return self.every or DEFAULT_EVERY


class Triggers(SpecModel):
    """Events on the device that evaluate the policy early (each on by default, as before triggers
    were configurable). Event runs of one policy are at least five minutes apart. A new or changed
    policy and an operator's run-now always run it."""

    agent_start: bool = Field(default=True, description="When the agent (re)starts.")
    alert_raised: bool = Field(default=True, description="When a monitor on the device raises an alert.")
    alert_types: list[AgentAlertPattern] = Field(
        default_factory=list, max_length=20,
        description="Only alerts of these types (e.g. 'agent.disk', 'agent.*'); empty: any alert. "
                    "An agent raises " + ", ".join(AGENT_ALERT_TYPES) + ".")
    inventory_changed: bool = Field(default=True, description="When a section of the device's inventory changed.")
    job_finished: bool = Field(default=True, description="After a job (a deployment, a rollback) finished on the "
                                                         "device.")

    @model_validator(mode="after")
    def _types_need_alerts(self) -> Triggers:
        if self.alert_types and not self.alert_raised:
            raise ValueError("'alertTypes' filters alert triggers, but 'alertRaised' is false; remove one")
        return self

    def fires_on_alerts(self, raised: frozenset[str]) -> bool:
        """Whether an alert of one of the ``raised`` types triggers the policy."""
        if not self.alert_raised or not raised:
            return False
        return not self.alert_types or any(alert_type_matches(pattern, alert_type)
                                           for pattern in self.alert_types for alert_type in raised)


class Exclusions(SpecModel):
    """Devices a policy does not apply to, whatever its targets say: the union of these."""

    groups: list[DnsLabel] = Field(default_factory=list, max_length=100)
    devices: list[str] = Field(default_factory=list, max_length=1000, description="Hostnames or agent ids.")
    selector: LabelSelector | None = Field(default=None, description="Devices whose labels match this.")

    @model_validator(mode="after")
    def _excludes_something(self) -> Exclusions:
        if not self.groups and not self.devices and self.selector is None:
            raise ValueError("exclude needs 'groups', 'devices' or 'selector'")
        if self.selector is not None and not self.selector.match_labels and not self.selector.match_expressions:
            raise ValueError("an empty selector would exclude every device; name labels to match")
        return self


class PolicySpec(SpecModel):
    description: str = Field(default="", max_length=2000)
    targets: Targets | None = Field(default=None, description="Required, except in an override.")
    overrides: DnsLabel | None = Field(
        default=None, description="The MSP-wide baseline Policy this client's Policy changes for the client's "
                                  "devices; what it does not set is inherited.")
    exclude: Exclusions | None = Field(default=None, description="Devices taken out of the targets.")
    mode: Literal["audit", "enforce"] = "audit"
    schedule: Schedule = Field(default_factory=Schedule)
    triggers: Triggers = Field(default_factory=Triggers)
    template: DnsLabel | None = None
    params: dict[str, JsonValue] = Field(
        default_factory=dict, max_length=50,
        description="Values for the template's parameters; checked against the template's declarations.")
    checks: list[Check] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _template_or_checks(self) -> PolicySpec:
        if self.overrides is not None:
            if self.targets is not None:
                raise ValueError("an override applies to its baseline's targets among this client's devices; "
                                 "remove 'targets' (take devices out with 'exclude')")
            if self.template is not None:
                raise ValueError("an override keeps its baseline's template; remove 'template' and change "
                                 "'params' (or replace checks by name under 'checks')")
            return self
        if self.targets is None:
            raise ValueError("a Policy needs 'targets' (or 'overrides' naming the baseline it changes)")
        if (self.template is None) == (not self.checks):
            raise ValueError("a Policy needs either 'template' (with 'params') or inline 'checks', not both")
        return self


@register_kind
class Policy(Resource):
    kind: Literal["Policy"]
    spec: PolicySpec
