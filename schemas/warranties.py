"""``Warranty``: a warranty record kept by hand, for vendors without a lookup API.

A vendor lookup (Dell, Lenovo, HP) wins over nothing; a record here wins over a lookup,
so an MSP can correct what a vendor reports.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from schemas.resources import Resource, SpecModel, register_kind


class WarrantySpec(SpecModel):
    serial: str = Field(min_length=1, max_length=100, description="The device's serial number or service tag.")
    vendor: str = Field(min_length=1, max_length=200)
    model: str = Field(default="", max_length=200)
    start: date | None = None
    end: date
    service_level: str = Field(default="", max_length=200)
    kind: Literal["base", "extended", "accidental-damage", "other"] = "base"

    @model_validator(mode="after")
    def _ordered(self) -> WarrantySpec:
        if self.start is not None and self.start > self.end:
            raise ValueError("'start' is after 'end'")
        return self


@register_kind
class Warranty(Resource):
    kind: Literal["Warranty"]
    spec: WarrantySpec
