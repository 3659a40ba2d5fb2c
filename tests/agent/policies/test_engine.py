"""The policy engine on this machine: what runs when, enforce vs audit, results kept on disk."""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from agent.policies.engine import EVENT_GAP, EngineState, Events, PolicyEngine, PolicyState
from schemas.checks import Check
from schemas.protocol import BundledPolicy, BundledScript, PolicyBundle, PolicyRunRequest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="runs bash scripts on Linux")
CHECK: TypeAdapter[Any] = TypeAdapter(Check)
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
MAKE_FILE = 'printf "ok\\n" > "$PARAM_path"\necho "made $PARAM_path"\n'


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make_script(text: str = MAKE_FILE, *, sha256: str | None = None) -> BundledScript:
    return BundledScript(name="make-file", ref="make-file", shell="bash", text=text,
                         sha256=sha256 or hashlib.sha256(text.encode()).hexdigest(), timeout_seconds=30,
                         os=["linux"], parameters=[{"name": "path", "required": True}])


def policy(target: Path, *, mode: str = "enforce", version: str = "v1", every: int = 3600,
           name: str = "marker") -> BundledPolicy:
    checks = [CHECK.validate_python({"name": "marker", "type": "file", "path": str(target),
                                     "remediation": {"script": "make-file", "params": {"path": str(target)}}})]
    return BundledPolicy(id=name, version=version, mode=mode, every_seconds=every, checks=checks,
                         scripts={"make-file": "make-file"})


def bundle(*policies: BundledPolicy, runs: tuple[PolicyRunRequest, ...] = (),
           script: BundledScript | None = None) -> PolicyBundle:
    return PolicyBundle(agent_id="a_1", revision="r", version="b", policies=list(policies),
                        scripts=[script or make_script()], run_requests=list(runs))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path, clock: Clock) -> PolicyEngine:
    return PolicyEngine(tmp_path / "policies", clock=clock)


def test_enforce_remediates_then_checks_again(engine: PolicyEngine, tmp_path: Path) -> None:
    target = tmp_path / "marker"
    (result,) = engine.run(bundle(policy(target)), Events())
    (outcome,) = result.checks
    assert (result.status, result.trigger) == ("compliant", "bundle")
    assert (outcome.first_status, outcome.status) == ("non_compliant", "compliant")
    assert f"made {target}" in outcome.remediation
    assert target.read_text() == "ok\n"


def test_audit_reports_and_never_remediates(engine: PolicyEngine, tmp_path: Path) -> None:
    target = tmp_path / "marker"
    (result,) = engine.run(bundle(policy(target, mode="audit")), Events())
    assert result.status == "non_compliant"
    assert result.checks[0].remediation == "" and result.checks[0].first_status is None
    assert not target.exists()


def test_a_script_whose_text_does_not_match_its_hash_never_runs(engine: PolicyEngine, tmp_path: Path) -> None:
    target = tmp_path / "marker"
    tampered = make_script(sha256=hashlib.sha256(b"something else").hexdigest())
    (result,) = engine.run(bundle(policy(target), script=tampered), Events())
    assert result.status == "non_compliant"
    assert "SHA-256" in result.checks[0].remediation and "not run" in result.checks[0].remediation
    assert not target.exists()


def test_a_check_of_another_os_is_not_applicable_never_compliant(engine: PolicyEngine) -> None:
    registry = CHECK.validate_python({"name": "reg", "type": "registry", "key": "HKLM\\SOFTWARE\\X", "value": "v"})
    only = BundledPolicy(id="win", version="v1", mode="enforce", every_seconds=3600, checks=[registry])
    (result,) = engine.run(bundle(only), Events())
    assert (result.status, result.checks[0].status) == ("not_applicable", "not_applicable")


@pytest.mark.parametrize(("events", "held", "trigger"), [
    pytest.param(Events(), None, "bundle", id="new-policy"),
    pytest.param(Events(), PolicyState("v0", T0, None), "bundle", id="version-changed"),
    pytest.param(Events(started=True), PolicyState("v1", T0, None), "start", id="agent-start"),
    pytest.param(Events(alert_raised=True), PolicyState("v1", T0, None), "alert", id="alert"),
    pytest.param(Events(inventory_changed=True), PolicyState("v1", T0, None), "inventory", id="inventory"),
    pytest.param(Events(job_finished=True), PolicyState("v1", T0, None), "job", id="job"),
    pytest.param(Events(alert_raised=True), PolicyState("v1", T0, T0), None, id="events-spaced-out"),
    pytest.param(Events(), PolicyState("v1", T0, None), None, id="not-due"),
])
def test_what_makes_a_policy_run(engine: PolicyEngine, tmp_path: Path, clock: Clock, events: Events,
                                 held: PolicyState | None, trigger: str | None) -> None:
    clock.now = T0 + EVENT_GAP / 2
    state = EngineState({"marker": held} if held else {})
    due = engine.due(bundle(policy(tmp_path / "m")), state, events)
    assert [why for _policy, why, _request in due] == ([trigger] if trigger else [])


def test_schedule_and_run_now(engine: PolicyEngine, tmp_path: Path, clock: Clock) -> None:
    plan = bundle(policy(tmp_path / "m", mode="audit", every=600))
    engine.run(plan, Events())
    clock.now = T0 + timedelta(seconds=599)
    assert engine.run(plan, Events()) == []
    clock.now = T0 + timedelta(seconds=600)
    assert [result.trigger for result in engine.run(plan, Events())] == ["schedule"]
    asked = bundle(policy(tmp_path / "m", mode="audit", every=600),
                   runs=(PolicyRunRequest(id="pr_1", policy_id="marker"),))
    (result,) = engine.run(asked, Events())
    assert (result.trigger, result.run_request) == ("run_now", "pr_1")
    assert engine.run(asked, Events()) == []  # a request is answered once


def test_results_wait_on_disk_across_restarts_until_stored(tmp_path: Path, clock: Clock) -> None:
    first = PolicyEngine(tmp_path / "policies", clock=clock)
    (result,) = first.run(bundle(policy(tmp_path / "m", mode="audit")), Events())
    again = PolicyEngine(tmp_path / "policies", clock=clock)  # a restarted agent
    assert [queued.id for queued in again.outbox.pending()] == [result.id]
    assert again.due(bundle(policy(tmp_path / "m", mode="audit")), again.load_state(), Events()) == []
    sent = again.outbox.send(lambda report: type("Ack", (), {"stored": [r.id for r in report.results]})(), "a_1")
    assert sent == 1 and again.outbox.pending() == []
