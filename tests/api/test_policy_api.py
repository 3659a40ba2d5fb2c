"""The policy endpoints' guards: an agent reports only its own assigned policies; tokens see their client."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from schemas.protocol import CheckOutcome, PolicyResult, PolicyResultReport
from tests.e2e.test_policies import fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller, wait_until

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def report(policy: str, agent_id: str | None = None) -> dict:
    result = PolicyResult(id="r1", policy_id=policy, version="v", status="compliant", mode="audit",
                          trigger="schedule", started_at=NOW, finished_at=NOW,
                          checks=[CheckOutcome(name="marker", type="file", status="compliant")])
    return PolicyResultReport(agent_id=agent_id, results=[result]).model_dump(mode="json")


def test_results_about_unassigned_policies_or_other_agents_are_refused(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, fleet(str(tmp_path / "a"), str(tmp_path / "b")), "policies")
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        facts = {"hostname": "pc-1", "os": "linux"}
        enrolled = httpx.post(f"{running.url}/api/agent/v1/enroll",
                              json={"token": running.enrolment_token("acme"), "facts": facts}).json()
        agent = httpx.Client(base_url=f"{running.url}/api/agent/v1",
                             headers={"Authorization": f"Bearer {enrolled['credential']}"})
        checkin = agent.post("/checkin", json={"seen_seq": 0}).json()
        bundle = agent.get("/policies").json()
        stranger = agent.post("/policy-results", json=report("globex.other"))
        impostor = agent.post("/policy-results", json=report("acme.marker-audited", agent_id="a_" + "0" * 32))
        own = agent.post("/policy-results", json=report("acme.marker-audited", enrolled["agent_id"]))
        again = agent.post("/policy-results", json=report("acme.marker-audited", enrolled["agent_id"]))
        agent.close()

        with running.api(running.token(role="viewer", client="globex")) as globex:
            other = globex.get("/api/compliance", params={"client": "acme"})
            none = globex.get("/api/compliance").json()
            execute = globex.post("/api/policies/acme.marker-audited/execute")
        with running.api(running.token(role="viewer", client="acme")) as acme:
            wait_until(lambda: acme.get("/api/compliance").json()["totals"]["total"] == 2, what="assignments")
            mine = acme.get("/api/compliance").json()

    assert checkin["policies_version"] != "" and '"acme.marker-enforced"' in bundle["payload"]
    assert (stranger.status_code, stranger.json()["code"]) == (403, "forbidden")
    assert impostor.status_code == 403
    assert own.json() == again.json() == {"stored": ["r1"]}
    assert other.status_code == 403 and none["totals"]["total"] == 0
    assert execute.status_code == 403  # viewers cannot run policies
    # Reported for another version than the one assigned: still unknown.
    assert mine["totals"]["unknown"] == 2


TEMPLATE = """\
apiVersion: fleetward/v1
kind: PolicyTemplate
metadata: {{name: {name}}}
spec:
  category: files
  os: [linux]
  description: A marker file exists
  parameters: [{{name: path, type: string, default: /tmp/marker}}]
  checks:
    - {{name: marker, type: file, path: "{{{{ params.path }}}}"}}
"""


def test_script_categories_and_policy_templates_come_from_the_applied_revision(tmp_path, database_url):
    repo = init_repo(tmp_path / "fleet")
    files = fleet(str(tmp_path / "a"), str(tmp_path / "b"))
    files["templates/marker.yaml"] = TEMPLATE.format(name="marker-file")
    files["clients/acme/templates.yaml"] = TEMPLATE.format(name="acme-marker")
    sha = commit(repo, files, "templates")
    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        with running.api(running.token(role="viewer", client="acme")) as acme:
            library = acme.get("/api/scripts/library", params={"category": "no-such-category"}).json()
            templates = acme.get("/api/policy-templates").json()["items"]
            windows = acme.get("/api/policy-templates", params={"os": "windows"}).json()["items"]
        with running.api(running.token(role="viewer", client="globex")) as globex:
            theirs = globex.get("/api/policy-templates").json()["items"]
            other = globex.get("/api/policy-templates", params={"client": "acme"})

    assert library["items"] == []  # the filter narrows the scripts, never the categories to choose from
    assert library["categories"] == [{"name": "files", "scripts": 1, "os": ["linux"]}]
    assert [item["id"] for item in templates] == ["acme.acme-marker", "marker-file"]
    marker = templates[1]
    assert (marker["category"], marker["os"], marker["revision"]) == ("files", ["linux"], sha)
    assert marker["source"] == "templates/marker.yaml:1:1"
    assert marker["spec"]["checks"][0]["path"] == "{{ params.path }}"
    assert windows == []
    assert [item["id"] for item in theirs] == ["marker-file"]
    assert other.status_code == 403
