"""``Script``: an entry of the script library (the script's file lives in the repository)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.packages import OsName
from schemas.resources import Resource, SpecModel, register_kind

ParameterType = Literal["string", "integer", "boolean"]
ParameterValue = str | int | float | bool


class ScriptParameter(SpecModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    type: ParameterType = "string"
    required: bool = False
    default: ParameterValue | None = None
    description: str = Field(default="", max_length=1000)


class ScriptSpec(SpecModel):
    shell: Literal["bash", "sh", "zsh", "powershell", "python"]
    file: str = Field(pattern=r"^[^/\\][^\\]*$", max_length=500,
                      description="Path of the script file, relative to the fleet root.")
    description: str = Field(default="", max_length=2000)
    category: str = Field(default="general", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    os: list[OsName] = Field(min_length=1)
    parameters: list[ScriptParameter] = Field(default_factory=list, max_length=50)
    timeout_seconds: int = Field(default=300, ge=1, le=86_400)


@register_kind
class Script(Resource):
    kind: Literal["Script"]
    spec: ScriptSpec
