"""Policy automation end to end: git → signed bundle → the real agent → results → compliance.

An enforce policy whose file check fails on a path the agent can reach, with a remediation Script
that creates the file: the agent reports non-compliant, remediates, re-checks and reports
compliant; an audit policy on another missing file stays non-compliant and its remediation never
runs; GET /api/compliance and the history show both; run-now reaches the agent at its next cycle.
A policy's triggers decide which of the agent's events run it: a real disk alert runs the policy
that listens for ``agent.disk`` and not the one that listens for ``agent.service``.
"""

from __future__ import annotations

from tests.support.fleets import ACME_CLIENT, LINUX_GROUP
from tests.support.gitrepos import commit, init_repo
from tests.support.running import AgentProcess, run_controller, wait_until

MAKE_FILE = """\
#!/bin/bash
set -eu
printf 'managed by fleetward\\n' > "$PARAM_path"
echo "created $PARAM_path"
"""


def fleet(enforced: str, audited: str) -> dict[str, str]:
    return {
        "clients/acme/client.yaml": ACME_CLIENT,
        "clients/acme/groups.yaml": LINUX_GROUP,
        "scripts/make-file.sh": MAKE_FILE,
        "scripts/library.yaml": """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: make-file}
spec:
  shell: bash
  file: scripts/make-file.sh
  os: [linux]
  category: files
  description: Create a file with a marker line
  parameters: [{name: path, required: true}]
  timeoutSeconds: 30
""",
        "clients/acme/policies.yaml": f"""\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: marker-enforced}}
spec:
  targets: {{group: linux-boxes}}
  mode: enforce
  schedule: {{every: 1h}}
  checks:
    - name: marker
      type: file
      path: {enforced}
      contains: "^managed by fleetward$"
      remediation: {{script: make-file, params: {{path: {enforced}}}}}
    - {{name: no-registry, type: registry, key: 'HKLM\\\\SOFTWARE\\\\Fleetward', value: Marker}}
---
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: marker-audited}}
spec:
  targets: {{group: linux-boxes}}
  mode: audit
  checks:
    - name: marker
      type: file
      path: {audited}
      remediation: {{script: make-file, params: {{path: {audited}}}}}
""",
    }


def test_enforce_remediates_audit_reports_and_compliance_rolls_up(tmp_path, database_url):
    enforced, audited = tmp_path / "marker-enforced", tmp_path / "marker-audited"
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, fleet(str(enforced), str(audited)), "policies")
    agent = AgentProcess(tmp_path / "agent")

    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        agent.enroll(running.url, running.enrolment_token("acme"))
        token = running.token(role="operator", client="acme")

        # Before the agent has reported, its targets are unknown, never compliant.
        with running.api(token) as api:
            wait_until(lambda: api.get("/api/compliance").json()["totals"]["total"] == 2, what="assignments")
            assert api.get("/api/compliance").json()["totals"]["unknown"] == 2

        first = agent.once()
        runs = sorted(first["policies"]["runs"])
        assert first["policies"]["fetched"] is True
        assert runs == ["acme.marker-audited non_compliant bundle", "acme.marker-enforced compliant bundle"]
        assert first["policies"]["sent"] == 2 and first["policies"]["queued"] == 0
        assert enforced.read_text() == "managed by fleetward\n"
        assert not audited.exists()  # audit mode never changes the machine

        with running.api(token) as api:
            rollup = api.get("/api/compliance").json()
            history = api.get("/api/policies/acme.marker-enforced/history").json()["items"]
            failing = api.get("/api/compliance", params={"status": "non_compliant"}).json()
        by_policy = {item["policy"]: item["counts"] for item in rollup["policies"]}
        assert by_policy["acme.marker-enforced"]["compliant"] == 1
        assert by_policy["acme.marker-audited"]["non_compliant"] == 1
        assert rollup["clients"] == [{"client": "acme", "counts": {
            "compliant": 1, "non_compliant": 1, "error": 0, "not_applicable": 0, "unknown": 0, "total": 2}}]
        assert [group["group"] for group in rollup["groups"]] == ["acme.linux-boxes"]
        assert [policy["policy"] for policy in failing["policies"]] == ["acme.marker-audited"]
        (run,) = history
        checks = {check["name"]: check for check in run["checks"]}
        assert checks["marker"]["first_status"] == "non_compliant"
        assert checks["marker"]["status"] == "compliant"
        assert f"created {enforced}" in checks["marker"]["remediation"]
        assert checks["no-registry"]["status"] == "not_applicable"  # a Windows check on Linux

        # Nothing is due: the next cycle fetches nothing and runs nothing.
        quiet = agent.once()
        assert quiet["policies"]["fetched"] is False
        assert [r for r in quiet["policies"]["runs"] if "schedule" in r or "bundle" in r] == []

        # Run now, for the one agent: it reaches the agent at its next check-in, and the request completes.
        with running.api(token) as api:
            accepted = api.post("/api/policies/acme.marker-audited/execute", json={"agents": [agent.agent_id]})
            assert accepted.status_code == 202, accepted.text
        asked = agent.once()
        assert "acme.marker-audited non_compliant run_now" in asked["policies"]["runs"]
        with running.api(token) as api:
            latest = api.get("/api/policies/acme.marker-audited/history", params={"limit": 1}).json()["items"][0]
        assert latest["trigger"] == "run_now" and latest["run_request"] == accepted.json()["request_id"]


def test_results_survive_an_unreachable_controller(tmp_path, database_url):
    enforced, audited = tmp_path / "marker-enforced", tmp_path / "marker-audited"
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, fleet(str(enforced), str(audited)), "policies")
    agent = AgentProcess(tmp_path / "agent")
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        agent.enroll(running.url, running.enrolment_token("acme"))
        agent.once()
    # The controller is gone: a restarted agent still evaluates (start) and keeps the results on disk.
    offline = agent.run("run", "--once", "--format", "json", "--data-dir", str(agent.data_dir), check=False)
    assert offline.returncode != 0
    queued = sorted((agent.data_dir / "policies" / "results").glob("*.json"))
    assert len(queued) == 2


def triggered(name: str, path: str, triggers: str) -> str:
    return f"""\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: {name}}}
spec:
  targets: {{group: linux-boxes}}
  mode: audit
  schedule: {{cron: '0 3 1 1 *'}}
  triggers: {triggers}
  checks: [{{name: marker, type: file, path: {path}}}]
"""


def test_a_policy_runs_on_the_triggers_it_names(tmp_path, database_url):
    tripping = ACME_CLIENT.replace("timezone: Europe/Berlin}", "timezone: Europe/Berlin,\n"
                                   "       monitors: {disk: {warningFreeGib: 1000000}}}")  # trips on any disk
    quiet = "inventoryChanged: false, jobFinished: false"
    marker = str(tmp_path / "absent")
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, {
        "clients/acme/client.yaml": tripping, "clients/acme/groups.yaml": LINUX_GROUP,
        "clients/acme/policies.yaml": "---\n".join([
            triggered("on-disk", marker, f"{{agentStart: false, alertTypes: [agent.disk], {quiet}}}"),
            triggered("on-service", marker, f"{{agentStart: false, alertTypes: [agent.service], {quiet}}}"),
            triggered("on-start", marker, f"{{alertRaised: false, {quiet}}}"),
        ]),
    }, "policies with triggers")
    agent = AgentProcess(tmp_path / "agent")
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        agent.enroll(running.url, running.enrolment_token("acme"))

        first = agent.once()  # the bundle and the thresholds arrive; the monitors ran on the defaults
        assert sorted(first["policies"]["runs"]) == [
            "acme.on-disk non_compliant bundle", "acme.on-service non_compliant bundle",
            "acme.on-start non_compliant bundle"]
        assert not [change for change in first["alerts"]["changed"] if change.startswith("raised disk")]

        second = agent.once()  # the thresholds trip: a disk alert is raised
        assert [change for change in second["alerts"]["changed"] if change.startswith("raised disk")], second
        assert sorted(second["policies"]["runs"]) == ["acme.on-disk non_compliant alert",
                                                      "acme.on-start non_compliant start"]

        third = agent.once()  # the alert stays raised, nothing new: only the start trigger fires
        assert third["policies"]["runs"] == ["acme.on-start non_compliant start"]
        assert third["policies"]["queued"] == 0

        token = running.token(role="viewer", client="acme")
        with running.api(token) as api:
            history = api.get("/api/policies/acme.on-disk/history").json()["items"]
            service = api.get("/api/policies/acme.on-service/history").json()["items"]
        assert [run["trigger"] for run in history] == ["alert", "bundle"]
        assert [run["trigger"] for run in service] == ["bundle"]
