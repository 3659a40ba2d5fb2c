"""``Deployment``: a package present on (or absent from) a set of devices."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.resources import DnsLabel, Resource, SpecModel, register_kind
from schemas.rollouts import Rollout
from schemas.windows import WindowChoice


class Targets(SpecModel):
    """Devices a deployment acts on: the union of the named groups and devices.

    A resource under ``clients/<name>/`` only ever acts on that client's devices,
    whatever its targets say.
    """

    group: DnsLabel | None = None
    groups: list[DnsLabel] = Field(default_factory=list)
    devices: list[str] = Field(default_factory=list, description="Hostnames or agent ids.")

    @model_validator(mode="after")
    def _targets_something(self) -> Targets:
        if self.group is None and not self.groups and not self.devices:
            raise ValueError("targets needs 'group', 'groups' or 'devices'")
        return self

    @property
    def all_groups(self) -> list[str]:
        return ([self.group] if self.group else []) + [g for g in self.groups if g != self.group]


class DeploymentSpec(SpecModel):
    package: DnsLabel
    ensure: Literal["present", "absent"] = "present"
    targets: Targets
    suspend: bool = Field(
        default=False, description="Stop emitting new jobs; jobs already issued still run."
    )
    rollout: Rollout = Field(
        default_factory=Rollout,
        description="Waves; default: 1 canary device, 10 %, 50 %, 100 % (never everything at once).")
    window: WindowChoice | None = Field(
        default=None, description="Maintenance window for installs, inline or the name of a MaintenanceWindow; "
                                  "overrides the client's deploymentWindow.")


@register_kind
class Deployment(Resource):
    kind: Literal["Deployment"]
    spec: DeploymentSpec
