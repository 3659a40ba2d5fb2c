"""The whole GitOps loop, end to end, on SQLite and on PostgreSQL.

init → commit package/group/deployment → serve → token → enrol → run --once → files present →
status branch commit → upgrade → uninstall → broken commit rejected with path:line:col while the
last good revision stays applied. Real git (a bare remote, a clone, pushes), the controller on a
real uvicorn server on a loopback port, the real agent as a subprocess, artifacts over loopback
HTTP.
"""

from __future__ import annotations

import subprocess
import sys

from controller.demo.serving_artifacts import ArtifactServer
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP, deployment_yaml, package_yaml
from tests.support.gitrepos import commit, git
from tests.support.running import AgentProcess, make_artifact, run_controller, wait_until


def fleetward(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller.cli.main", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def status_file(remote, path: str) -> str | None:
    done = subprocess.run(["git", "-C", str(remote), "show", f"fleetward/status:{path}"],
                          capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def test_commit_to_installed_software_and_back_to_git(tmp_path, database_url):
    # A fleet repository from the template, published to a bare "remote", worked on in a clone.
    init = fleetward("init", str(tmp_path / "seed"))
    assert init.returncode == 0, init.stderr
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "seed"), str(remote))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))

    store = tmp_path / "artifact-store"
    store.mkdir()
    v1 = make_artifact(store, "hello-1.0.0.tar", {"bin/hello": "echo 1.0.0\n"})
    v2 = make_artifact(store, "hello-1.1.0.tar", {"bin/hello": "echo 1.1.0\n", "README": "new\n"})

    with ArtifactServer(store) as artifacts:
        def package(version: str, artifact) -> str:
            return package_yaml(version=version, url=f"{artifacts.base_url}{artifact.path.name}",
                                sha256=artifact.sha256, size=artifact.size)

        first = commit(clone, {
            "clients/acme/client.yaml": ACME_CLIENT,
            "clients/acme/hello.yaml": "---\n".join([package("1.0.0", v1), LINUX_GROUP, deployment_yaml()]),
        }, "Deploy hello-tool 1.0.0 to ACME's Linux boxes")
        git(clone, "push", "-q", "origin", "main")
        assert fleetward("validate", str(clone)).returncode == 0

        with run_controller(f"file://{remote}", tmp_path / "controller", database_url) as running:
            running.wait_applied(first)
            token = fleetward("token", "create", "--client", "acme", "--db", database_url)
            assert token.returncode == 0, token.stderr
            enrolment_token = token.stdout.strip()
            assert enrolment_token.startswith("fwe_") and "\n" not in enrolment_token

            agent = AgentProcess(tmp_path / "agent")
            agent.enroll(running.url, enrolment_token, role="server")
            deployment = "acme.hello-on-linux"
            hostname = wait_until(lambda: running.device_state(deployment, _hostname()) == "pending"
                                  and _hostname(), what="the install job")

            report = agent.once()
            assert [(j["action"], j["package"], j["version"], j["result"]) for j in report["jobs"]] == [
                ("install", "hello-tool", "1.0.0", "succeeded")]
            installed = tmp_path / "agent" / "software" / "hello-tool" / "1.0.0" / "bin" / "hello"
            assert installed.read_text() == "echo 1.0.0\n"
            wait_until(lambda: running.device_state(deployment, hostname) == "converged", what="converged")

            # Status comes back to git, on the status branch of the remote, never on main.
            device_files = wait_until(lambda: (status_file(remote, "clients/acme.md") or "")
                                      .count("hello-tool 1.0.0"), what="status commit")
            assert device_files
            readme = status_file(remote, "README.md")
            assert readme is not None and f"`{first[:12]}`" in readme
            assert git(remote, "rev-parse", "main") == first

            # Nothing new: running the agent again issues and runs nothing.
            assert agent.once()["jobs"] == []

            # Upgrade: 1.1.0 replaces 1.0.0.
            second = commit(clone, {"clients/acme/hello.yaml": "---\n".join(
                [package("1.1.0", v2), LINUX_GROUP, deployment_yaml()])}, "hello-tool 1.1.0")
            git(clone, "push", "-q", "origin", "main")
            running.wait_applied(second)
            wait_until(lambda: running.device_state(deployment, hostname) == "pending", what="upgrade job")
            report = agent.once()
            assert [(j["action"], j["version"], j["result"]) for j in report["jobs"]] == [
                ("upgrade", "1.1.0", "succeeded")]
            assert agent.software() == ["hello-tool/1.1.0"]

            # Uninstall.
            third = commit(clone, {"clients/acme/hello.yaml": "---\n".join(
                [package("1.1.0", v2), LINUX_GROUP, deployment_yaml(ensure="absent")])}, "remove hello")
            git(clone, "push", "-q", "origin", "main")
            running.wait_applied(third)
            wait_until(lambda: running.device_state(deployment, hostname) == "pending", what="uninstall")
            report = agent.once()
            assert [(j["action"], j["result"]) for j in report["jobs"]] == [("uninstall", "succeeded")]
            assert agent.software() == []

            # A broken commit is rejected with path:line:col; the last good revision stays applied.
            broken = commit(clone, {"clients/acme/hello.yaml": "---\n".join(
                [package("1.1.0", v2).replace('"1.1.0"', "1.1"), LINUX_GROUP, deployment_yaml()])},
                "oops")
            git(clone, "push", "-q", "origin", "main")
            running.controller.reconciler.request_fetch()
            with running.api() as client:
                rejected = wait_until(lambda: [r for r in client.get("/api/revisions").json()["items"]
                                               if r["sha"] == broken], what="the rejection")
            assert rejected[0]["state"] == "rejected"
            assert rejected[0]["problems"] == [
                'clients/acme/hello.yaml:5:12: expected a string, got the number 1.1: quote it ("1.1")']
            assert running.applied_revision() == third
            revisions = wait_until(lambda: "hello.yaml:5:12" in (status_file(remote, "revisions.md") or "")
                                   and status_file(remote, "revisions.md"), what="rejection in status")
            assert broken[:12] in revisions
            assert agent.once()["jobs"] == []


def _hostname() -> str:
    import socket

    return socket.gethostname()
