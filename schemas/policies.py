"""``Policy``: checks (and remediation) that must hold on a set of devices.

Checks inline (any type of :mod:`schemas.checks`), or a template with parameters; audit or
enforce; an interval schedule.

Inheritance: an MSP-wide Policy is a *baseline*; a Policy in a client's folder with ``overrides``
changes it for that client's devices (what it sets replaces the baseline's, ``params`` and
``checks`` by name; the rest is inherited) and adds no targets of its own. ``exclude`` (in a
baseline, an override or any Policy) takes devices, groups or a label selector out of its targets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue, model_validator

from schemas.checks import Check
from schemas.deployments import Targets
from schemas.groups import LabelSelector
from schemas.resources import DnsLabel, Resource, SpecModel, register_kind


class Schedule(SpecModel):
    every: str = Field(default="1h", pattern=r"^[1-9][0-9]{0,3}[mhd]$",
                       description="Evaluate this often: 30m, 4h, 1d.")


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
