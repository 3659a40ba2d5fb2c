"""``Script``: an entry of the script library (the script's file lives in the repository).

The script contract, shared with the agent's runner: each declared parameter reaches the
script as the environment variable ``PARAM_<name>`` (the name exactly as declared; booleans
as ``true``/``false``); a check script exits 0 when compliant, 1 when not, anything else is
an error, and its last line of standard output is the evidence; a remediation script exits
0 on success.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field, field_validator, model_validator

from schemas.packages import OsName
from schemas.resources import Resource, SpecModel, register_kind

ParameterType = Literal["string", "integer", "number", "boolean"]
ParameterValue = str | int | float | bool

MAX_SCRIPT_BYTES = 256 * 1024
"""A script file larger than this is refused: scripts travel inside signed jobs and bundles."""

MAX_PARAMETER_CHARS = 4096
"""The longest string a parameter value may be."""

Shell = Literal["bash", "sh", "zsh", "powershell", "python"]

SHELL_OS: dict[str, frozenset[OsName]] = {
    "bash": frozenset({"linux", "macos"}),
    "sh": frozenset({"linux", "macos"}),
    "zsh": frozenset({"linux", "macos"}),
    "powershell": frozenset({"windows", "linux", "macos"}),
    "python": frozenset({"linux", "macos", "windows"}),
}
"""Where each shell is expected to exist; a Script may only declare these operating systems."""


class ParameterBase(SpecModel):
    """What Script and PolicyTemplate parameters share: a name, whether it is needed, limits."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    required: bool = False
    description: str = Field(default="", max_length=1000)
    allowed: list[str | int | float] | None = Field(
        default=None, max_length=100, description="When set, the value must be one of these.")
    minimum: float | None = Field(default=None, description="Smallest value (integer and number only).")
    maximum: float | None = Field(default=None, description="Largest value (integer and number only).")

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not acceptable for this parameter, or None when it is."""
        kind = getattr(self, "type", "string")
        if not _of_type(kind, value):
            return f"{self.name} must be {_TYPE_WORDS[kind]}, got {_shown(value)}"
        if isinstance(value, str) and len(value) > MAX_PARAMETER_CHARS:
            return f"{self.name} is {len(value)} characters long; at most {MAX_PARAMETER_CHARS} are allowed"
        if isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                return f"{self.name} has {len(value)} items; at most {MAX_LIST_ITEMS} are allowed"
            if any(len(item) > MAX_PARAMETER_CHARS for item in value):
                return f"an item of {self.name} is over {MAX_PARAMETER_CHARS} characters long"
        if self.allowed is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item not in self.allowed or isinstance(item, bool):
                    choices = ", ".join(_shown(choice) for choice in self.allowed)
                    return f"{self.name} must be one of {choices}; got {_shown(item)}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                return f"{self.name} must be at least {_number(self.minimum)}, got {value}"
            if self.maximum is not None and value > self.maximum:
                return f"{self.name} must be at most {_number(self.maximum)}, got {value}"
        return None

    def _check_default(self, default: object) -> None:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"parameter {self.name}: minimum is above maximum")
        if default is not None:
            wrong = self.problem(default)
            if wrong is not None:
                raise ValueError(f"the default does not fit: {wrong}")


MAX_LIST_ITEMS = 200
"""The most items a list parameter may hold."""

_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "list": "a list of strings"}


def _of_type(kind: str, value: object) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # YAML's true is not the integer 1 here
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, str)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value[:60])
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (null)"
    return str(value)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


class ScriptParameter(ParameterBase):
    type: ParameterType = "string"
    default: ParameterValue | None = None

    @model_validator(mode="after")
    def _default_fits(self) -> ScriptParameter:
        self._check_default(self.default)
        return self


class ScriptSpec(SpecModel):
    shell: Shell
    file: str = Field(pattern=r"^[^/\\][^\\]*$", max_length=500,
                      description="Path of the script file, relative to the fleet root.")
    description: str = Field(default="", max_length=2000)
    category: str = Field(default="general", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    os: list[OsName] = Field(min_length=1)
    parameters: list[ScriptParameter] = Field(default_factory=list, max_length=50)
    timeout_seconds: int = Field(default=300, ge=1, le=86_400)

    @field_validator("file")
    @classmethod
    def _inside_the_fleet(cls, value: str) -> str:
        if any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError("the path must stay inside the fleet folder: no '.', '..' or empty parts "
                             "(write it relative to the fleet root, like scripts/linux/check.sh)")
        if PurePosixPath(value).suffix in (".yaml", ".yml"):
            raise ValueError("a script file cannot be a .yaml/.yml file: those are fleet resources")
        return value

    @model_validator(mode="after")
    def _shell_runs_there(self) -> ScriptSpec:
        wrong = sorted(set(self.os) - SHELL_OS[self.shell])
        if wrong:
            raise ValueError(f"a {self.shell} script cannot run on {', '.join(wrong)}; "
                             f"{self.shell} runs on {', '.join(sorted(SHELL_OS[self.shell]))}")
        names = [parameter.name for parameter in self.parameters]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"parameter {twice[0]!r} is declared twice")
        return self


@register_kind
class Script(Resource):
    kind: Literal["Script"]
    spec: ScriptSpec
