"""Proposals end to end: branches and pull-request refs are planned (never applied), plans are
complete (deletions included), published to the API and the status branch, fetched by
``fleetward plan --server``; a merge applies exactly what was planned or says how it differs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller.demo.serving_artifacts import ArtifactServer
from controller.store import jobs_for_agent, list_revisions
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP, ONE_WAVE, deployment_yaml, package_yaml
from tests.support.gitrepos import commit, git
from tests.support.running import AgentProcess, make_artifact, run_controller, wait_until


def fleetward(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "controller.cli.main", *args], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, **(env or {})})


@pytest.fixture
def fleet(tmp_path):
    """A bare remote with hello-tool 1.0.0 and extra-tool deployed to ACME's Linux boxes, a clone,
    and a loopback artifact server with 1.0.0 and 1.1.0."""
    store = tmp_path / "artifacts"
    store.mkdir()
    artifacts = {name: make_artifact(store, f"{name}.tar", {"bin/x": name}) for name in
                 ("hello-tool-1.0.0", "hello-tool-1.1.0", "extra-tool-1.0.0")}
    with ArtifactServer(store) as server:
        def package(name: str, version: str) -> str:
            artifact = artifacts[f"{name}-{version}"]
            return package_yaml(name=name, version=version, url=f"{server.base_url}{name}-{version}.tar",
                                sha256=artifact.sha256, size=artifact.size)

        remote = tmp_path / "remote.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        files = {
            "clients/acme/client.yaml": ACME_CLIENT,
            "clients/acme/hello.yaml": "---\n".join([package("hello-tool", "1.0.0"), LINUX_GROUP,
                                                     deployment_yaml(rollout=ONE_WAVE)]),
            "clients/acme/extra.yaml": "---\n".join([package("extra-tool", "1.0.0"),
                                                     deployment_yaml("extra", "extra-tool", rollout=ONE_WAVE)]),
        }
        base = commit(clone, files, "hello and extra on ACME's Linux boxes")
        git(clone, "push", "-q", "origin", "main")
        yield remote, clone, base, package


def push_branch(clone, branch: str, files: dict, message: str) -> str:
    git(clone, "checkout", "-q", "-B", branch, "origin/main")
    sha = commit(clone, files, message)
    git(clone, "push", "-q", "-f", "origin", f"{branch}:refs/heads/{branch}")
    git(clone, "checkout", "-q", "main")
    return sha


def test_a_proposal_is_planned_completely_and_never_applied(tmp_path, fleet, database_url):
    remote, clone, base, package = fleet
    with run_controller(f"file://{remote}", tmp_path / "ctl", database_url) as running:
        running.wait_applied(base)
        agents = []
        for name in ("web-01", "web-02"):
            agent = AgentProcess(tmp_path / name)
            agent.enroll(running.url, running.enrolment_token("acme"))
            agents.append(agent)
        for agent in agents:
            wait_until(lambda a=agent: len(jobs_for_agent(running.store, a.agent_id, None)) == 2, what="jobs")
            agent.once()

        head = push_branch(clone, "proposals/upgrade-hello", {
            "clients/acme/hello.yaml": "---\n".join([package("hello-tool", "1.1.0"), LINUX_GROUP,
                                                     deployment_yaml(rollout=ONE_WAVE)]),
            "clients/acme/extra.yaml": package("extra-tool", "1.0.0"),  # the deployment is deleted
        }, "upgrade hello, stop deploying extra")
        running.controller.reconciler.request_fetch()
        with running.api() as api:
            document = wait_until(lambda: api.get("/api/plans/proposals/upgrade-hello").status_code == 200
                                  and api.get("/api/plans/proposals/upgrade-hello").json(), what="the plan")
            markdown = api.get("/api/plans/proposals/upgrade-hello", params={"format": "markdown"}).text
        assert document["head"] == head and document["valid"] and document["base"] == base
        data = document["plan"]
        assert {(c["kind"], c["ref"], c["change"]) for c in data["changes"]} == {
            ("Package", "acme.hello-tool", "changed"), ("Deployment", "acme.extra", "removed")}
        assert data["deletions"] == [{"kind": "Deployment", "ref": "acme.extra",
                                      "location": "clients/acme/extra.yaml:13:1"}]
        with running.api() as api:
            hosts = sorted(a["hostname"] for a in api.get("/api/agents").json()["items"])
        assert data["orphaned"][0]["devices_per_client"] == {"acme": 2}
        assert data["plan"]["counts"] == {"install": 0, "upgrade": 2, "uninstall": 0}
        assert data["plan"]["clients"]["acme"][0]["devices"] == hosts
        assert "**Deployment `acme.extra` is removed**: extra-tool stays installed on 2 devices" in markdown
        assert "| upgrade hello-tool 1.0.0 → 1.1.0 | 2 | `acme.hello-on-linux` |" in markdown

        # Planned, never applied: main is untouched and no upgrade job exists.
        assert running.applied_revision() == base
        for agent in agents:
            assert all(job["version"] == "1.0.0" for job in
                       [j.model_dump() for j in jobs_for_agent(running.store, agent.agent_id, None)])

        # The status branch carries the plan; `fleetward plan --server` fetches it for CI.
        wait_until(lambda: "stays installed on 2 devices" in subprocess.run(
            ["git", "-C", str(remote), "show", "fleetward/status:plans/proposals/upgrade-hello.md"],
            capture_output=True, text=True, check=False).stdout, what="the plan on the status branch")
        token_file = tmp_path / "token"
        token_file.write_text(running.token("viewer"))
        fetched = fleetward("plan", "--server", running.url, "--head", "proposals/upgrade-hello",
                            "--sha", head[:12], "--format", "markdown", "--token-file", str(token_file))
        assert fetched.returncode == 0, fetched.stderr
        assert fetched.stdout == markdown


def test_invalid_and_deleted_proposals_and_pull_request_refs(tmp_path, fleet, database_url):
    remote, clone, base, _package = fleet
    with run_controller(f"file://{remote}", tmp_path / "ctl", database_url) as running:
        running.wait_applied(base)
        push_branch(clone, "pr/broken", {"clients/acme/hello.yaml": "apiVersion: fleetward/v1\nkind: [\n"},
                    "broken")
        # A GitHub pull request ref, as the host creates it.
        pr_head = push_branch(clone, "feature", {"clients/acme/extra.yaml": None}, "drop extra entirely")
        git(clone, "push", "-q", "origin", f"{pr_head}:refs/pull/7/head")
        running.controller.reconciler.request_fetch()
        with running.api() as api:
            broken = wait_until(lambda: api.get("/api/plans/pr/broken").status_code == 200
                                and api.get("/api/plans/pr/broken").json(), what="the invalid plan")
            assert broken["valid"] is False
            assert broken["plan"]["problems"][0].startswith("clients/acme/hello.yaml:3:1: YAML syntax error")
            pull = wait_until(lambda: api.get("/api/plans/pull/7/head").status_code == 200
                              and api.get("/api/plans/pull/7/head").json(), what="the pull request plan")
            assert {c["ref"] for c in pull["plan"]["deletions"]} == {"acme.extra", "acme.extra-tool"}
            assert api.get("/api/plans/feature").status_code == 404  # not a proposal pattern

            token_file = tmp_path / "token"
            token_file.write_text(running.token("viewer"))
            failing = fleetward("plan", "--server", running.url, "--head", "pr/broken", "--token-file",
                                str(token_file))
            assert failing.returncode == 1 and "Invalid: 1 problem" in failing.stdout

            git(clone, "push", "-q", "origin", "--delete", "pr/broken")
            running.controller.reconciler.request_fetch()
            wait_until(lambda: api.get("/api/plans/pr/broken").status_code == 404, what="the plan removed")
            with running.api(running.token("viewer", client="acme")) as scoped:
                assert scoped.get("/api/plans").status_code == 403
        assert running.applied_revision() == base
        assert [row.state for row in list_revisions(running.store, 10)] == ["applied"]


def test_a_merge_applies_what_was_planned_or_says_how_it_differs(tmp_path, fleet, database_url):
    remote, clone, base, package = fleet
    with run_controller(f"file://{remote}", tmp_path / "ctl", database_url,
                        full_reconcile_interval=300) as running:
        running.wait_applied(base)
        head = push_branch(clone, "proposals/v11", {"clients/acme/hello.yaml": "---\n".join(
            [package("hello-tool", "1.1.0"), LINUX_GROUP, deployment_yaml(rollout=ONE_WAVE)])}, "hello 1.1.0")
        running.controller.reconciler.request_fetch()
        with running.api() as api:
            planned = wait_until(lambda: api.get("/api/plans/proposals/v11").status_code == 200
                                 and api.get("/api/plans/proposals/v11").json(), what="the plan")
        assert planned["plan"]["plan"]["jobs"] == []  # no device yet

        # The fleet changes after review: a device enrols. Then the proposal is merged.
        agent = AgentProcess(tmp_path / "late")
        agent.enroll(running.url, running.enrolment_token("acme"))
        git(clone, "push", "-q", "origin", f"{head}:refs/heads/main")
        running.wait_applied(head)

        def note():
            return next((row.plan_note for row in list_revisions(running.store, 5, "applied")
                         if row.sha == head), None)

        text = wait_until(note, what="the note on the merged revision")
        assert text.startswith("The plan differs from the one published for proposals/v11")
        assert "Added: install hello-tool 1.1.0 on" in text
        readme = wait_until(lambda: "The plan differs" in subprocess.run(
            ["git", "-C", str(remote), "show", "fleetward/status:README.md"], capture_output=True, text=True,
            check=False).stdout, what="the note in status")
        assert readme


def test_a_merge_with_nothing_changed_in_between_applies_exactly_the_plan(tmp_path, fleet, sqlite_url):
    remote, clone, base, package = fleet
    with run_controller(f"file://{remote}", tmp_path / "ctl", sqlite_url, full_reconcile_interval=300) as running:
        running.wait_applied(base)
        agent = AgentProcess(tmp_path / "web")
        agent.enroll(running.url, running.enrolment_token("acme"))
        wait_until(lambda: len(jobs_for_agent(running.store, agent.agent_id, None)) == 2, what="jobs")
        agent.once()
        wait_until(lambda: running.device_state("acme.hello-on-linux", _host()) == "converged", what="converged")
        head = push_branch(clone, "proposals/v11", {"clients/acme/hello.yaml": "---\n".join(
            [package("hello-tool", "1.1.0"), LINUX_GROUP, deployment_yaml(rollout=ONE_WAVE)])}, "hello 1.1.0")
        running.controller.reconciler.request_fetch()
        with running.api() as api:
            planned = wait_until(lambda: api.get("/api/plans/proposals/v11").status_code == 200
                                 and api.get("/api/plans/proposals/v11").json(), what="the plan")
        assert planned["plan"]["plan"]["counts"]["upgrade"] == 1
        git(clone, "push", "-q", "origin", f"{head}:refs/heads/main")
        running.wait_applied(head)
        note = wait_until(lambda: next((r.plan_note for r in list_revisions(running.store, 5, "applied")
                                        if r.sha == head), None), what="the note")
        assert note.startswith(f"Applied exactly as planned for proposals/v11 at {head[:12]}")


def _host() -> str:
    import socket

    return socket.gethostname()
