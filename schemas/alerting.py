"""``AlertTicketRule``: which agent alerts become tickets, and how they are routed.

A first shape, extended by the alert-to-ticket work.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.resources import DnsLabel, LabelKey, LabelValue, Resource, SpecModel, register_kind

Severity = Literal["info", "warning", "critical"]


class AlertMatch(SpecModel):
    alert_types: list[str] = Field(default_factory=list, max_length=100)
    severities: list[Severity] = Field(default_factory=list)
    groups: list[DnsLabel] = Field(default_factory=list)
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)


class Routing(SpecModel):
    board: str | None = Field(default=None, max_length=200)
    priority: Literal["low", "medium", "high", "critical"] | None = None
    assignee: str | None = Field(default=None, max_length=200)


class AlertTicketRuleSpec(SpecModel):
    description: str = Field(default="", max_length=2000)
    match: AlertMatch = Field(default_factory=AlertMatch)
    persist_minutes: int = Field(default=0, ge=0, le=10_080,
                                 description="The alert must last this long before a ticket opens.")
    routing: Routing = Field(default_factory=Routing)
    title: str = Field(default="{{ alert.type }} on {{ device.hostname }}", max_length=500)
    enabled: bool = True


@register_kind
class AlertTicketRule(Resource):
    kind: Literal["AlertTicketRule"]
    spec: AlertTicketRuleSpec
