"""Request bodies of the desired-state write endpoints: a name, an optional client, the kind's spec.

Each ``XCreate`` is the kind's own spec model (so the same fields, camelCase, defaults and
checks as the YAML) plus ``name`` and ``client``; :func:`spec_of` takes back out exactly
the fields the caller sent, which is what gets written — defaults are not spelled out in
the YAML unless someone wrote them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from schemas.alerting import AlertTicketRuleSpec
from schemas.licenses import LicenseSpec
from schemas.packages import PackageSpec
from schemas.policies import PolicySpec
from schemas.resources import DnsLabel, SpecModel
from schemas.scripts import ScriptSpec
from schemas.secrets import SEALED_PREFIX

MAX_SCRIPT_BYTES = 256 * 1024
"""A script's text, UTF-8 encoded."""
MAX_ASSIGNED = 500
_ENVELOPE = {"name", "client", "content"}

NAME = Field(description="metadata.name of the resource: lower-case letters, digits and '-'.")
CLIENT = Field(default=None, description="The client the resource belongs to (it goes under clients/<client>/); "
                                        "omit for an MSP-wide resource.")


def spec_of(body: BaseModel) -> dict[str, Any]:
    """The spec fields the caller sent (camelCase, as YAML spells them), without name and client."""
    return body.model_dump(mode="python", by_alias=True, exclude_unset=True, exclude=_ENVELOPE)


class PackageCreate(PackageSpec):
    name: DnsLabel = NAME
    client: DnsLabel | None = CLIENT


class PolicyCreate(PolicySpec):
    name: DnsLabel = NAME
    client: DnsLabel | None = CLIENT


class PolicyReplace(PolicySpec):
    """The whole new spec of a policy; fields left out take their defaults."""


class PolicyAssign(SpecModel):
    """Groups and devices added to a policy's targets (those already there are kept once)."""

    groups: list[DnsLabel] = Field(default_factory=list, max_length=MAX_ASSIGNED)
    devices: list[str] = Field(default_factory=list, max_length=MAX_ASSIGNED,
                               description="Hostnames or agent ids.")

    @field_validator("devices")
    @classmethod
    def _device_names(cls, devices: list[str]) -> list[str]:
        for device in devices:
            if not device.strip() or len(device) > 253 or any(ord(c) < 32 for c in device):
                raise ValueError("a device is a hostname or agent id of 1-253 printable characters")
        return devices

    @model_validator(mode="after")
    def _something(self) -> PolicyAssign:
        if not self.groups and not self.devices:
            raise ValueError("give at least one of 'groups' or 'devices'")
        return self


class TicketRuleCreate(AlertTicketRuleSpec):
    name: DnsLabel = NAME
    client: DnsLabel | None = CLIENT


class TicketRuleReplace(AlertTicketRuleSpec):
    """The whole new spec of an alert-to-ticket rule; fields left out take their defaults."""


class LicenseCreate(LicenseSpec):
    """Created, or its spec replaced when a licence of that name exists in that scope."""

    name: DnsLabel = NAME
    client: DnsLabel | None = CLIENT

    @field_validator("key", mode="before")
    @classmethod
    def _sealed(cls, key: Any) -> Any:
        # Checked before the pattern so the answer says what to do, and never echoes the key.
        if isinstance(key, str) and not key.startswith(SEALED_PREFIX):
            raise ValueError("a plaintext licence key is refused: seal it with 'fleetward seal' and send the "
                             "sealed:v1:... value")
        return key


class ScriptCreate(ScriptSpec):
    """A Script resource and the script's text, committed beside it."""

    name: DnsLabel = NAME
    client: DnsLabel | None = CLIENT
    file: str | None = Field(  # type: ignore[assignment]  # optional here: the conventional path
        default=None, pattern=r"^[^/\\][^\\]*$", max_length=500,
        description="Where the script's text goes, relative to the fleet root; default "
                    "scripts/<name>.<ext> (under clients/<client>/ for a client's script).")
    content: str = Field(description="The script's text (UTF-8, at most 256 KiB).")

    @field_validator("content")
    @classmethod
    def _content(cls, content: str) -> str:
        size = len(content.encode("utf-8", errors="surrogatepass"))
        if size > MAX_SCRIPT_BYTES:
            raise ValueError(f"the script is {size} bytes; at most {MAX_SCRIPT_BYTES} bytes are accepted")
        if "\x00" in content:
            raise ValueError("the script contains a NUL character; send text")
        try:
            content.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the script is not valid UTF-8 text (it has lone surrogates)") from None
        return content
