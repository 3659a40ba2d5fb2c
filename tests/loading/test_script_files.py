"""A Script's file is read from the revision: present, a plain file, capped, UTF-8; text and SHA-256 kept."""

from __future__ import annotations

import hashlib
import os

import pytest

from controller.loading import DirectorySource, GitTreeSource, check_files, load_revision
from schemas.scripts import MAX_SCRIPT_BYTES, Script
from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import commit, init_repo, write_files

SCRIPT = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: tidy}
spec:
  shell: bash
  file: scripts/linux/tidy.sh
  os: [linux]
"""
TEXT = "#!/usr/bin/env bash\nset -euo pipefail\necho tidy\n"


def test_the_text_and_its_sha256_are_in_the_desired_state_from_git(tmp_path):
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, {"clients/acme/client.yaml": ACME_CLIENT, "scripts/tidy.yaml": SCRIPT,
                        "scripts/linux/tidy.sh": TEXT})
    desired = load_revision(GitTreeSource(repo, sha))
    (script,) = desired.of_kind(Script).values()
    found = desired.script_file(script)
    assert found is not None
    assert (found.text, found.sha256, found.size) == (TEXT, hashlib.sha256(TEXT.encode()).hexdigest(), len(TEXT))


def test_a_script_file_that_is_not_committed_is_missing(tmp_path):
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, {"clients/acme/client.yaml": ACME_CLIENT, "scripts/tidy.yaml": SCRIPT})
    write_files(repo, {"scripts/linux/tidy.sh": TEXT})  # on disk, not in the commit
    expected = ["scripts/tidy.yaml:6:9: no file scripts/linux/tidy.sh in the fleet repository; the path is "
                "relative to the fleet root (where fleet.yaml is): add the script or fix the path"]
    assert [str(p) for p in check_files(GitTreeSource(repo, sha))] == expected
    assert check_files(DirectorySource(repo)) == []


def test_the_path_is_relative_to_the_fleet_folder_in_git(tmp_path):
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, {"fleet/clients/acme/client.yaml": ACME_CLIENT, "fleet/scripts/tidy.yaml": SCRIPT,
                        "fleet/scripts/linux/tidy.sh": TEXT})
    desired = load_revision(GitTreeSource(repo, sha, "fleet"))
    assert list(desired.script_files) == ["scripts/linux/tidy.sh"]


@pytest.mark.parametrize(("content", "says"), [
    pytest.param(b"#!/bin/sh\n" + b"#" * MAX_SCRIPT_BYTES, f"over the {MAX_SCRIPT_BYTES} byte limit", id="too-big"),
    pytest.param(b"#!/bin/sh\necho \xff\n", "is not UTF-8", id="not-utf8"),
])
def test_an_unfit_script_file_is_reported_at_the_file_line(tmp_path, content, says):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "scripts/tidy.yaml": SCRIPT,
                           "scripts/linux/tidy.sh": content})
    (problem,) = [str(p) for p in check_files(DirectorySource(tmp_path))]
    assert problem.startswith("scripts/tidy.yaml:6:9: scripts/linux/tidy.sh ") and says in problem, problem


def test_a_link_is_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "tidy.sh").write_text(TEXT)
    fleet = tmp_path / "fleet"
    write_files(fleet, {"clients/acme/client.yaml": ACME_CLIENT, "scripts/tidy.yaml": SCRIPT})
    os.symlink(outside, fleet / "scripts/linux")
    (problem,) = [str(p) for p in check_files(DirectorySource(fleet))]
    assert problem.startswith("scripts/tidy.yaml:6:9: scripts/linux/tidy.sh is a symbolic link"), problem


@pytest.mark.parametrize("path", ["../outside/tidy.sh", "scripts/../../tidy.sh", "scripts//tidy.sh",
                                  "./tidy.sh", "scripts/tidy.yaml"])
def test_a_path_that_leaves_the_fleet_folder_is_refused(tmp_path, path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT,
                           "scripts/tidy.yaml": SCRIPT.replace("scripts/linux/tidy.sh", path)})
    (problem,) = [str(p) for p in check_files(DirectorySource(tmp_path))]
    assert problem.startswith("scripts/tidy.yaml:6:9: ") and ("inside the fleet folder" in problem
                                                             or ".yaml" in problem), problem


def test_a_shell_that_does_not_run_on_the_declared_os_is_refused(tmp_path):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "scripts/linux/tidy.sh": TEXT,
                           "scripts/tidy.yaml": SCRIPT.replace("os: [linux]", "os: [linux, windows]")})
    (problem,) = [str(p) for p in check_files(DirectorySource(tmp_path))]
    assert "a bash script cannot run on windows" in problem, problem
