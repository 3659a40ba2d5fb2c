"""The fleet-repo template's CI files: present, valid YAML, and every fleetward command in them parses."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
from ruamel.yaml import YAML

from controller.bundled import bundled_dir
from controller.cli.main import build_parser

TEMPLATE = bundled_dir("fleet_repo_template")


def _commands(text: str) -> list[list[str]]:
    """Every ``fleetward ...`` invocation, with CI expressions replaced by placeholders."""
    text = re.sub(r"\$\{\{[^}]*\}\}", "X", text)
    text = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}?", "X", text)
    text = text.replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip().removeprefix("- ").removeprefix("run: ").removeprefix("entry: ").strip()
        if line.startswith("fleetward "):
            line = line.split(" > ")[0].split(" || ")[0]
            found.append(shlex.split(line)[1:])
    return found


def test_github_workflow_validates_then_posts_the_plan():
    text = (TEMPLATE / ".github" / "workflows" / "fleetward.yml").read_text()
    workflow = YAML(typ="safe").load(text)
    steps = workflow["jobs"]["validate-and-plan"]["steps"]
    runs = [step.get("run", "") for step in steps]
    order = [i for i, run in enumerate(runs) for word in ("validate", "plan --server", "ci comment")
             if f"fleetward {word}" in run]
    assert order == sorted(order) and len(order) == 3
    assert workflow["permissions"]["pull-requests"] == "write"


def test_gitlab_ci_validates_then_posts_the_plan():
    ci = YAML(typ="safe").load((TEMPLATE / ".gitlab-ci.yml").read_text())
    script = " ".join(ci["fleetward"]["script"])
    assert script.index("fleetward validate") < script.index("fleetward plan --server") < script.index(
        "fleetward ci comment --provider gitlab")
    assert ci["fleetward"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'


@pytest.mark.parametrize("path", [".github/workflows/fleetward.yml", ".gitlab-ci.yml", ".pre-commit-hooks.yaml",
                                  ".pre-commit-config.yaml"])
def test_every_fleetward_command_in_the_ci_files_parses(path):
    commands = _commands((TEMPLATE / path).read_text())
    assert commands, f"no fleetward command found in {path}"
    parser = build_parser()
    for argv in commands:
        parser.parse_args(argv)  # exits (fails the test) on an unknown flag


def test_init_copies_the_ci_files(tmp_path):
    done = subprocess.run([sys.executable, "-m", "controller.cli.main", "init", str(tmp_path / "fleet")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for path in (".github/workflows/fleetward.yml", ".gitlab-ci.yml", ".pre-commit-hooks.yaml"):
        assert (tmp_path / "fleet" / path).is_file()
