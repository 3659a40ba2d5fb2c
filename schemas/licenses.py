"""``License``: a software licence the MSP tracks for a client: seats, expiry, sealed key.

A first shape, extended by the asset-management work.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from schemas.resources import Resource, SpecModel, register_kind
from schemas.secrets import SealedValue


class SeatRule(SpecModel):
    """Installed software that consumes a seat."""

    software_name: str = Field(min_length=1, max_length=500,
                               description="Name as inventory reports it; '*' matches any run of text.")
    publisher: str | None = Field(default=None, max_length=500)


class LicenseSpec(SpecModel):
    product: str = Field(min_length=1, max_length=200)
    vendor: str = Field(default="", max_length=200)
    seats: int = Field(ge=0, le=10_000_000)
    expires: date | None = None
    kind: Literal["subscription", "perpetual", "trial"] = "subscription"
    key: SealedValue | None = None
    consumed_by: SeatRule | None = None


@register_kind
class License(Resource):
    kind: Literal["License"]
    spec: LicenseSpec
