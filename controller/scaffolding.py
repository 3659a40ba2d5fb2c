"""Create fleet repositories: ``fleetward init`` from the template, the demo from the examples.

The new repository gets the folder's files, the JSON Schemas under
``.fleetward/schemas/`` (so editors complete and check the YAML at once), and one
first commit on ``main``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import git

from controller.errors import ConfigError
from schemas.exporting import all_schemas

SCHEMA_FOLDER = ".fleetward/schemas"
FALLBACK_AUTHOR = git.Actor("Fleetward", "fleetward@localhost")


def write_schemas(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in all_schemas().items():
        (folder / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def create_repo_from(
    source: Path,
    target: Path,
    *,
    message: str,
    transform: Callable[[Path], None] | None = None,
    branch: str = "main",
) -> str:
    """Copy ``source`` into a new git repository at ``target`` and commit; returns the commit sha.

    ``transform`` may edit the copied files before the commit (the demo rewrites artifact URLs).
    """
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} already exists and is not empty",
                          hint="choose a new directory; fleetward init never overwrites files")
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
    write_schemas(target / SCHEMA_FOLDER)
    if transform is not None:
        transform(target)
    repo = git.Repo.init(target, initial_branch=branch)
    repo.git.add(A=True)
    reader = repo.config_reader()
    has_identity = reader.has_option("user", "name") and reader.has_option("user", "email")
    actor = None if has_identity else FALLBACK_AUTHOR
    commit = repo.index.commit(message, author=actor, committer=actor)
    return commit.hexsha
