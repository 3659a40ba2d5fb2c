"""``Policy``: checks (and remediation) that must hold on a set of devices.

Checks inline (any type of :mod:`schemas.checks`), or a template with parameters; audit or
enforce; an interval schedule.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue, model_validator

from schemas.checks import Check
from schemas.deployments import Targets
from schemas.resources import DnsLabel, Resource, SpecModel, register_kind


class Schedule(SpecModel):
    every: str = Field(default="1h", pattern=r"^[1-9][0-9]{0,3}[mhd]$",
                       description="Evaluate this often: 30m, 4h, 1d.")


class PolicySpec(SpecModel):
    description: str = Field(default="", max_length=2000)
    targets: Targets
    mode: Literal["audit", "enforce"] = "audit"
    schedule: Schedule = Field(default_factory=Schedule)
    template: DnsLabel | None = None
    params: dict[str, JsonValue] = Field(
        default_factory=dict, max_length=50,
        description="Values for the template's parameters; checked against the template's declarations.")
    checks: list[Check] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _template_or_checks(self) -> PolicySpec:
        if (self.template is None) == (not self.checks):
            raise ValueError("a Policy needs either 'template' (with 'params') or inline 'checks', not both")
        return self


@register_kind
class Policy(Resource):
    kind: Literal["Policy"]
    spec: PolicySpec
