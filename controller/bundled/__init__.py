"""Folders the controller ships with: the demo fleet (``examples/``) and ``fleet-repo-template/``.

In a wheel they are package data under ``controller/bundled/``; in a source checkout
(or an editable install) they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

from controller.errors import ConfigError

_SOURCE_FOLDERS = {"examples": "examples", "fleet_repo_template": "fleet-repo-template"}


def bundled_dir(name: str) -> Path:
    """The folder holding the bundled ``examples`` or ``fleet_repo_template``."""
    if name not in _SOURCE_FOLDERS:
        raise ValueError(f"unknown bundled folder {name!r}")
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parents[1] / _SOURCE_FOLDERS[name]):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"the bundled {_SOURCE_FOLDERS[name]}/ folder is missing from this installation",
        hint="reinstall fleetward (pip install fleetward) or run from a source checkout",
    )
