"""The ``fleetward`` command line, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from controller.store import Store, list_agents
from tests.support.fleets import minimal_fleet, package_yaml
from tests.support.gitrepos import commit, git, init_repo, write_files


def fleetward(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller.cli.main", *args], capture_output=True,
                          text=True, timeout=120, check=False, cwd=cwd)


def test_init_makes_a_valid_committed_repository_with_editor_schemas(tmp_path):
    target = tmp_path / "fleet"
    done = fleetward("init", str(target))
    assert done.returncode == 0, done.stderr
    assert git(target, "status", "--porcelain") == ""
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (target / ".fleetward" / "schemas" / "package.schema.json").is_file()
    first_line = (target / "groups" / "all-linux.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../.fleetward/schemas/resource.schema.json"
    assert fleetward("validate", str(target)).returncode == 0


def test_init_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    done = fleetward("init", str(tmp_path / "x"))
    assert done.returncode == 2
    assert "already exists and is not empty" in done.stderr
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_validate_prints_one_line_per_problem_and_exits_1(tmp_path):
    write_files(tmp_path, {**minimal_fleet(), "clients/acme/bad.yaml": package_yaml(name="x", sha256="z")})
    done = fleetward("validate", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "clients/acme/bad.yaml:10:15: 'sha256' must be 64 lower-case hex digits (the output of "
        "sha256sum), got 'z'"]
    assert "1 problem; nothing was applied." in done.stderr


def test_validate_a_commit_rather_than_the_working_tree(tmp_path):
    repo = init_repo(tmp_path / "repo")
    sha = commit(repo, minimal_fleet())
    write_files(repo, {"clients/acme/hello.yaml": "broken: [\n"})
    assert fleetward("validate", str(repo)).returncode == 1
    assert fleetward("validate", str(repo), "--rev", sha).returncode == 0


def test_plan_against_an_empty_fleet(tmp_path):
    repo = init_repo(tmp_path / "repo")
    commit(repo, minimal_fleet())
    done = fleetward("plan", "--repo", str(repo))
    assert done.returncode == 0, done.stderr
    assert "against 0 enrolled devices" in done.stdout
    assert "Deployments that target no enrolled device: acme.hello-on-linux" in done.stdout


def test_plan_against_a_database_names_devices_per_client(tmp_path, database_url):
    from datetime import UTC, datetime

    from controller.store import create_enrollment_token, enroll_agent
    from schemas.protocol import Facts

    repo = init_repo(tmp_path / "repo")
    commit(repo, minimal_fleet())
    store = Store.open(database_url)
    try:
        now = datetime.now(UTC)
        for host in ("web-01", "web-02"):
            token = create_enrollment_token(store, "acme", created_by="tests", now=now)
            enroll_agent(store, token, Facts(hostname=host, os="linux", arch="x86_64"), {}, now)
    finally:
        store.close()
    text = fleetward("plan", "--repo", str(repo), "--db", database_url)
    assert text.returncode == 0, text.stderr
    # The default rollout starts with one canary device; the other waits for its wave, and says so.
    data = json.loads(fleetward("plan", "--repo", str(repo), "--db", database_url, "--format", "json").stdout)
    assert data["counts"] == {"install": 1, "upgrade": 0, "uninstall": 0}
    (canary,) = data["clients"]["acme"][0]["devices"]
    (held,) = data["held"]
    (other,) = held["devices"]
    assert {canary, other} == {"web-01", "web-02"}
    assert (held["deployment"], held["state"], held["action"]) == ("acme.hello-on-linux", "waiting", "install")
    assert f"  install hello-tool 1.0.0 on 1 device (acme.hello-on-linux): {canary}" in text.stdout
    assert f"`acme.hello-on-linux`: install on 1 more device (in a later rollout wave): {other}" in text.stdout
    markdown = fleetward("plan", "--repo", str(repo), "--db", database_url, "--format", "markdown").stdout
    assert f"| install hello-tool 1.0.0 | 1 | `acme.hello-on-linux` | {canary} |" in markdown


def test_plan_of_an_invalid_revision_lists_problems(tmp_path):
    repo = init_repo(tmp_path / "repo")
    commit(repo, {**minimal_fleet(), "clients/acme/x.yaml": "kind: Nope\n"})
    done = fleetward("plan", "--repo", str(repo))
    assert done.returncode == 1
    assert "clients/acme/x.yaml:1:1: missing 'apiVersion'" in done.stdout


def test_token_create_prints_only_the_token_and_stores_only_a_hash(tmp_path, database_url):
    enrolment = fleetward("token", "create", "--client", "acme", "--db", database_url)
    api = fleetward("token", "create", "--role", "viewer", "--client", "acme", "--name", "ann",
                    "--db", database_url)
    assert enrolment.returncode == api.returncode == 0
    assert enrolment.stdout.startswith("fwe_") and enrolment.stdout.count("\n") == 1
    assert api.stdout.startswith("fwt_") and api.stdout.count("\n") == 1
    listing = fleetward("token", "list", "--db", database_url).stdout
    assert enrolment.stdout.strip() not in listing and api.stdout.strip().split("_")[-1] not in listing


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["token", "create"], "needs --client NAME", id="token-without-client-or-role"),
    pytest.param(["token", "create", "--client", "a", "--expires", "soon"], "not a duration",
                 id="bad-duration"),
    pytest.param(["serve", "--repo", ".", "--listen", "0.0.0.0:8080"], "not a loopback address",
                 id="serve-public-without-tls"),
    pytest.param(["serve", "--repo", ".", "--listen", "nonsense"], "is not HOST:PORT", id="bad-listen"),
    pytest.param(["serve", "--repo", ".", "--warranty-interval", "0"], "intervals must be positive",
                 id="zero-warranty-interval"),
    pytest.param(["serve", "--repo", ".", "--api-threads", "0"], "--api-threads 0 is out of range",
                 id="zero-api-threads"),
])
def test_usage_errors_say_what_to_do(tmp_path, args, message):
    done = fleetward(*args, "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_db_upgrade_is_idempotent(database_url):
    for _ in range(2):
        done = fleetward("db", "upgrade", "--db", database_url)
        assert done.returncode == 0, done.stderr
    store = Store.open(database_url)
    try:
        assert list_agents(store, None) == []
    finally:
        store.close()


def test_schemas_export_check_detects_stale_files(tmp_path):
    assert fleetward("schemas", "export", "--out", str(tmp_path)).returncode == 0
    assert fleetward("schemas", "export", "--out", str(tmp_path), "--check").returncode == 0
    (tmp_path / "package.schema.json").write_text("{}")
    stale = fleetward("schemas", "export", "--out", str(tmp_path), "--check")
    assert stale.returncode == 1 and "package.schema.json: stale" in stale.stdout
