"""``Fleet``: the one ``fleet.yaml`` at the repository root, settings for the whole MSP."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.resources import Resource, SpecModel, register_kind
from schemas.timezones import TimeZoneName

DEFAULT_STATUS_BRANCH = "fleetward/status"
DEFAULT_PROPOSALS = ("pr/*", "proposals/*")


class FleetDefaults(SpecModel):
    timezone: TimeZoneName = "UTC"


class FleetSpec(SpecModel):
    display_name: str = Field(default="", max_length=200)
    status_branch: str = Field(
        default=DEFAULT_STATUS_BRANCH,
        pattern=r"^[A-Za-z0-9._/-]{1,200}$",
        description="Branch the controller commits status reports to. Never the applied branch.",
    )
    proposals: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROPOSALS),
        description="Branch patterns the controller plans but never applies.",
    )
    defaults: FleetDefaults = Field(default_factory=FleetDefaults)


@register_kind
class Fleet(Resource):
    kind: Literal["Fleet"]
    spec: FleetSpec = Field(default_factory=FleetSpec)
    placement = "msp"
