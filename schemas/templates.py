"""``PolicyTemplate``: reusable, parameterised policy checks (and their remediation).

A template's ``checks`` have the shape of a Policy's checks (:mod:`schemas.checks`), except
that any string value may hold jinja2 expressions over ``params``::

    checks:
      - name: recent-updates
        type: osUpdateAge
        maxDays: "{{ params.max_days }}"

A Policy names the template and gives ``params``; the controller checks them against the
declared ``parameters``, renders every string value in place (a value that is exactly one
expression keeps its native type, so ``max_days`` stays an integer) in a sandbox, and
validates the result as the Policy's checks. Rendering is the controller's business
(``controller.loading``); this module is only the shape, so the agent never needs jinja2.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue, model_validator

from schemas.packages import OsName
from schemas.resources import Resource, SpecModel, register_kind
from schemas.scripts import ParameterBase, ParameterValue

TemplateParameterType = Literal["string", "integer", "number", "boolean", "list"]
TemplateParameterValue = ParameterValue | list[str]

MAX_TEMPLATE_CHECKS = 100


class TemplateParameter(ParameterBase):
    """A typed template parameter; ``list`` is a list of strings (for example allowed admins)."""

    type: TemplateParameterType = "string"
    default: TemplateParameterValue | None = None

    @model_validator(mode="after")
    def _default_fits(self) -> TemplateParameter:
        self._check_default(self.default)
        return self


class PolicyTemplateSpec(SpecModel):
    description: str = Field(default="", max_length=2000)
    category: str = Field(default="general", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    os: list[OsName] = Field(min_length=1, description="Operating systems the checks are meant for.")
    parameters: list[TemplateParameter] = Field(default_factory=list, max_length=50)
    checks: list[dict[str, JsonValue]] = Field(
        min_length=1, max_length=MAX_TEMPLATE_CHECKS,
        description="Policy checks whose string values may use jinja2 expressions over 'params', "
                    "such as \"{{ params.max_days }}\".")

    @model_validator(mode="after")
    def _parameters_once(self) -> PolicyTemplateSpec:
        names = [parameter.name for parameter in self.parameters]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"parameter {twice[0]!r} is declared twice")
        return self


@register_kind
class PolicyTemplate(Resource):
    kind: Literal["PolicyTemplate"]
    spec: PolicyTemplateSpec
