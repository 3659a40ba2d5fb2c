"""The envelope every fleet-repository document shares, and the kind registry.

A document is ``apiVersion`` + ``kind`` + ``metadata`` + ``spec``. Each kind is
one pydantic model deriving from :class:`Resource` and registered with
:func:`register_kind`; the loader, the JSON Schema export and the docs find
kinds only through :data:`KINDS`, so adding a kind is one model plus one
decorator.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from schemas import API_VERSION
from schemas.limits import MAX_LABEL_VALUE_CHARS, MAX_LABELS

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"

DnsLabel = Annotated[
    str,
    StringConstraints(pattern=_DNS_LABEL),
    Field(description="Lower-case letters, digits and '-', 1-63 characters, starting and ending "
                      "with a letter or digit."),
]
LabelKey = Annotated[str, StringConstraints(pattern=_LABEL_KEY)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE_CHARS, pattern=_LABEL_VALUE)]


def _cap_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels are allowed, got {len(labels)}")
    return labels


Labels = Annotated[dict[LabelKey, LabelValue], AfterValidator(_cap_labels)]


def is_dns_label(value: str) -> bool:
    return re.fullmatch(_DNS_LABEL, value) is not None


class SpecModel(BaseModel):
    """Base of every spec and nested object: camelCase in YAML, unknown fields rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=False,
    )


class Metadata(SpecModel):
    name: DnsLabel
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Free-form notes for people; never interpreted."
    )


class Resource(SpecModel):
    """The envelope. Subclasses narrow ``kind`` to a Literal and give ``spec`` a type."""

    api_version: Literal["fleetward/v1"] = Field(alias="apiVersion")
    kind: str
    metadata: Metadata

    kind_name: ClassVar[str] = ""
    placement: ClassVar[Literal["anywhere", "msp", "client"]] = "anywhere"
    """Where the kind may live: anywhere, only outside ``clients/`` (msp), or only inside
    ``clients/<name>/`` (client)."""

    @property
    def name(self) -> str:
        return self.metadata.name


R = TypeVar("R", bound=type[Resource])

KINDS: dict[str, type[Resource]] = {}
"""Every registered kind, by its ``kind`` string."""


def register_kind(model: R) -> R:
    """Class decorator: make ``model`` a loadable, exportable kind."""
    kind_type: type[Resource] = model
    args = get_args(kind_type.model_fields["kind"].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{kind_type.__name__}.kind must be a Literal of one string")
    name: str = args[0]
    if name in KINDS:
        raise ValueError(f"kind {name} is registered twice")
    kind_type.kind_name = name
    KINDS[name] = kind_type
    return model


__all__ = [
    "API_VERSION",
    "KINDS",
    "DnsLabel",
    "LabelKey",
    "LabelValue",
    "Labels",
    "Metadata",
    "Resource",
    "SpecModel",
    "is_dns_label",
    "register_kind",
]
