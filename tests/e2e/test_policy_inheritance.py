"""Policy inheritance end to end: git → baseline, a client's override, an exclusion → the real agents → compliance.

An MSP-wide enforce baseline renders a template whose file check creates a marker at ``params.path``.
Client acme overrides the path and excludes its kiosks (a label given at enrolment); client globex
has no override. The globex agent remediates the baseline's marker, the acme agent the override's,
the acme kiosk receives nothing and is no target, so compliance counts two devices, both compliant,
under the baseline's id.
"""

from __future__ import annotations

from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import commit, init_repo
from tests.support.running import AgentProcess, run_controller, wait_until

GLOBEX_CLIENT = ACME_CLIENT.replace("acme", "globex").replace("ACME Corp", "Globex")

MAKE_FILE = """\
#!/bin/bash
set -eu
printf 'managed by fleetward\\n' > "$PARAM_path"
echo "created $PARAM_path"
"""

LIBRARY = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: make-file}
spec:
  shell: bash
  file: scripts/make-file.sh
  os: [linux]
  parameters: [{name: path, required: true}]
  timeoutSeconds: 30
---
apiVersion: fleetward/v1
kind: PolicyTemplate
metadata: {name: marker}
spec:
  os: [linux]
  parameters: [{name: path, type: string, required: true}]
  checks:
    - name: marker
      type: file
      path: "{{ params.path }}"
      contains: "^managed by fleetward$"
      remediation: {script: make-file, params: {path: "{{ params.path }}"}}
---
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: all-linux}
spec:
  selector: {matchLabels: {os: linux}}
"""


def fleet(baseline_path: str, acme_path: str) -> dict[str, str]:
    return {
        "clients/acme/client.yaml": ACME_CLIENT,
        "clients/globex/client.yaml": GLOBEX_CLIENT,
        "scripts/make-file.sh": MAKE_FILE,
        "library.yaml": LIBRARY,
        "baselines/marker.yaml": f"""\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: marker-baseline}}
spec:
  targets: {{group: all-linux}}
  mode: enforce
  template: marker
  params: {{path: {baseline_path}}}
""",
        "clients/acme/marker.yaml": f"""\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: marker}}
spec:
  overrides: marker-baseline
  params: {{path: {acme_path}}}
  exclude: {{selector: {{matchLabels: {{role: kiosk}}}}}}
""",
    }


def test_an_override_changes_the_baselines_parameter_and_an_excluded_device_receives_nothing(tmp_path, database_url):
    baseline_marker, acme_marker = tmp_path / "baseline-marker", tmp_path / "acme-marker"
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, fleet(str(baseline_marker), str(acme_marker)), "baseline with an acme override")
    acme, kiosk, globex = (AgentProcess(tmp_path / name) for name in ("acme", "kiosk", "globex"))

    with run_controller(str(repo), tmp_path / "controller", database_url) as running:
        running.wait_applied(sha)
        acme.enroll(running.url, running.enrolment_token("acme"))
        kiosk.enroll(running.url, running.enrolment_token("acme"), role="kiosk")
        globex.enroll(running.url, running.enrolment_token("globex"))
        admin = running.token(role="admin")

        # The kiosk is no target: two assignments, both unknown until their agents report.
        with running.api(admin) as api:
            wait_until(lambda: api.get("/api/compliance").json()["totals"]["total"] == 2, what="assignments")
            before = api.get("/api/compliance").json()
        assert before["totals"]["unknown"] == 2
        assert {device["agent_id"] for device in before["devices"]} == {acme.agent_id, globex.agent_id}

        # globex runs the baseline as written: its marker is the baseline's path.
        assert globex.once()["policies"]["runs"] == ["marker-baseline compliant bundle"]
        assert baseline_marker.read_text() == "managed by fleetward\n"
        assert not acme_marker.exists()

        # acme runs the baseline, under its id, with the override's path.
        assert acme.once()["policies"]["runs"] == ["marker-baseline compliant bundle"]
        assert acme_marker.read_text() == "managed by fleetward\n"

        # The kiosk's bundle is empty: nothing runs, nothing is reported.
        assert kiosk.once()["policies"]["runs"] == []

        with running.api(admin) as api:
            after = api.get("/api/compliance").json()
            history = api.get("/api/policies/marker-baseline/history").json()["items"]
            acme_view = api.get("/api/compliance", params={"client": "acme"}).json()
        assert after["policies"] == [{"policy": "marker-baseline", "counts": {
            "compliant": 2, "non_compliant": 0, "error": 0, "not_applicable": 0, "unknown": 0, "total": 2}}]
        assert kiosk.agent_id not in {device["agent_id"] for device in after["devices"]}
        assert acme_view["totals"]["total"] == 1
        evidence = {run["agent_id"]: run["checks"][0]["remediation"] for run in history}
        assert f"created {acme_marker}" in evidence[acme.agent_id]
        assert f"created {baseline_marker}" in evidence[globex.agent_id]
