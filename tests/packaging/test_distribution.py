"""The distribution ships every code package and the bundled folders."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_code_package_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("schemas", "controller", "agent")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_migrations_and_templates_are_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["controller"]
    controller = REPO / "controller"
    for path in [*(controller / "store" / "migrations").rglob("*.py"),
                 *(controller / "store" / "migrations").glob("*.mako"),
                 *(controller / "status" / "templates").iterdir()]:
        relative = path.relative_to(controller)
        assert any(relative.match(pattern) for pattern in patterns), f"{relative} is not package data"
