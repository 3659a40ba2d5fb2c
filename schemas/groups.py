"""``DeviceGroup``: a label selector and/or an explicit list of devices.

Selectors follow Kubernetes semantics: ``matchLabels`` and every
``matchExpressions`` entry must all hold; an empty selector matches every
device in the group's scope. Device labels are the facts the agent reports
(``os``, ``os_version``, ``arch``, ``hostname``, ``client``) plus the labels
given at enrolment.

A group may also carry ``monitors``: overrides of the monitor settings for its members, laid
over the Fleet's defaults and the client's overrides (see ``controller.agent_config`` for the
order and what happens when two groups disagree).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, model_validator

from schemas.monitoring import MonitorSettings
from schemas.resources import LabelKey, LabelValue, Resource, SpecModel, register_kind


class SelectorRequirement(SpecModel):
    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_fit_operator(self) -> SelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs a non-empty 'values' list")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no 'values'")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        present = self.key in labels and labels[self.key] in self.values
        return present if self.operator == "In" else not present


class LabelSelector(SpecModel):
    match_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    match_expressions: list[SelectorRequirement] = Field(default_factory=list)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )

    def pinned_values(self, key: str) -> set[str] | None:
        """The values this selector allows for ``key``, or None when it does not pin it."""
        allowed: set[str] | None = None
        if key in self.match_labels:
            allowed = {self.match_labels[key]}
        for requirement in self.match_expressions:
            if requirement.key == key and requirement.operator == "In":
                values = set(requirement.values)
                allowed = values if allowed is None else allowed & values
        return allowed


class DeviceGroupSpec(SpecModel):
    selector: LabelSelector | None = None
    devices: list[str] = Field(
        default_factory=list,
        description="Hostnames or agent ids that belong to the group whatever their labels.",
    )
    monitors: MonitorSettings | None = Field(
        default=None,
        description="Overrides the monitor settings of the group's devices, field by field, over the Fleet's "
                    "defaults and the client's overrides.")

    @model_validator(mode="after")
    def _selects_something(self) -> DeviceGroupSpec:
        if self.selector is None and not self.devices:
            raise ValueError("a DeviceGroup needs a 'selector', a 'devices' list, or both")
        return self

    def matches(self, labels: Mapping[str, str], agent_id: str) -> bool:
        if agent_id in self.devices or labels.get("hostname", "") in self.devices:
            return True
        return self.selector is not None and self.selector.matches(labels)


@register_kind
class DeviceGroup(Resource):
    kind: Literal["DeviceGroup"]
    spec: DeviceGroupSpec
