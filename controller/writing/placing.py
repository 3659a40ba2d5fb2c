"""Where a resource written through the API goes, and what a new file starts with.

New resources get one file each at a conventional path — ``packages/<name>.yaml``,
``scripts/<name>.yaml`` (with the script itself beside it as ``scripts/<name>.<ext>``),
``policies/<name>.yaml``, ``alert-rules/<name>.yaml``, ``licenses/<name>.yaml`` — or the
same under ``clients/<client>/`` for a client's resource, which is what gives it its scope.
Existing resources are changed where they are, wherever a person put them.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from controller.desired import Scope
from controller.loading.checking import scope_of
from controller.loading.sources import is_fleet_file

FOLDERS = {
    "Package": "packages",
    "Script": "scripts",
    "Policy": "policies",
    "AlertTicketRule": "alert-rules",
    "License": "licenses",
    "Deployment": "deployments",
}
"""The kinds the API writes, and the folder a new one goes to."""

SCRIPT_SUFFIXES = {"bash": "sh", "sh": "sh", "zsh": "zsh", "powershell": "ps1", "python": "py"}
SCHEMA = ".fleetward/schemas/resource.schema.json"


def scope_folder(scope: Scope) -> str:
    """``""`` for MSP-wide, ``clients/<client>/`` for a client's resources."""
    return "" if scope is None else f"clients/{scope}/"


def resource_path(kind: str, scope: Scope, name: str) -> str:
    """The conventional file of a new ``kind`` ``name``, relative to the fleet root."""
    return f"{scope_folder(scope)}{FOLDERS[kind]}/{name}.yaml"


def script_path(scope: Scope, name: str, shell: str) -> str:
    """Where a new script's own text goes, beside its Script resource."""
    return f"{scope_folder(scope)}{FOLDERS['Script']}/{name}.{SCRIPT_SUFFIXES[shell]}"


def schema_ref(path: str) -> str:
    """``resource.schema.json`` relative to the folder of ``path`` (both relative to the fleet root)."""
    depth = len(PurePosixPath(path).parts) - 1
    return "../" * depth + SCHEMA


def belongs_to(path: str, scope: Scope) -> bool:
    """Whether a file at ``path`` acts in ``scope`` (scope comes from the folder, as the loader sees it)."""
    found, misplaced = scope_of(path)
    return misplaced is None and found == scope


def script_file_problem(path: str, scope: Scope) -> str | None:
    """Why ``path`` cannot hold a script's text for a resource in ``scope``, or None."""
    parts = PurePosixPath(path).parts
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts) or path.startswith("/"):
        return "'file' must be a relative path without '.', '..' or hidden folders"
    if is_fleet_file(path) or path.endswith((".yaml", ".yml")):
        return "'file' must not be a .yaml or .yml file (those are read as fleet resources)"
    if not belongs_to(path, scope):
        where = f"in {scope_folder(scope)}" if scope is not None else "outside clients/"
        return f"'file' must be {where}, like the Script itself"
    return None
