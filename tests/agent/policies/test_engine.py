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
from schemas.policies import Triggers
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


def policy(target: Path, *, mode: str = "enforce", version: str = "v1", every: int | None = 3600,
           name: str = "marker", cron: str | None = None, timezone: str | None = None,
           triggers: dict[str, Any] | None = None) -> BundledPolicy:
    checks = [CHECK.validate_python({"name": "marker", "type": "file", "path": str(target),
                                     "remediation": {"script": "make-file", "params": {"path": str(target)}}})]
    return BundledPolicy(id=name, version=version, mode=mode, every_seconds=None if cron else every, cron=cron,
                         timezone=timezone, triggers=Triggers.model_validate(triggers or {}), checks=checks,
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
    pytest.param(Events(alerts=frozenset({"agent.disk"})), PolicyState("v1", T0, None), "alert", id="alert"),
    pytest.param(Events(inventory_changed=True), PolicyState("v1", T0, None), "inventory", id="inventory"),
    pytest.param(Events(job_finished=True), PolicyState("v1", T0, None), "job", id="job"),
    pytest.param(Events(alerts=frozenset({"agent.disk"})), PolicyState("v1", T0, T0), None, id="events-spaced-out"),
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


DISK = frozenset({"agent.disk"})


@pytest.mark.parametrize(("triggers", "events", "trigger"), [
    pytest.param({"agentStart": False}, Events(started=True), None, id="start-off"),
    pytest.param({"agentStart": False}, Events(started=True, alerts=DISK), "alert", id="start-off-alert-on"),
    pytest.param({"alertTypes": ["agent.service"]}, Events(alerts=DISK), None, id="alert-of-another-type"),
    pytest.param({"alertTypes": ["agent.service", "agent.d*"]}, Events(alerts=DISK), "alert", id="alert-type-match"),
    pytest.param({"alertRaised": False}, Events(alerts=DISK), None, id="alerts-off"),
    pytest.param({"inventoryChanged": False}, Events(inventory_changed=True), None, id="inventory-off"),
    pytest.param({"jobFinished": False}, Events(job_finished=True), None, id="job-off"),
    pytest.param({"jobFinished": False, "agentStart": False, "alertRaised": False, "inventoryChanged": False},
                 Events(started=True, alerts=DISK, inventory_changed=True, job_finished=True), None, id="all-off"),
])
def test_a_policy_obeys_its_triggers(engine: PolicyEngine, tmp_path: Path, clock: Clock, triggers: dict[str, Any],
                                     events: Events, trigger: str | None) -> None:
    clock.now = T0 + EVENT_GAP
    state = EngineState({"marker": PolicyState("v1", T0, None)})
    due = engine.due(bundle(policy(tmp_path / "m", triggers=triggers)), state, events)
    assert [why for _policy, why, _request in due] == ([trigger] if trigger else [])


def test_run_now_and_a_changed_version_run_even_with_every_trigger_off(engine: PolicyEngine, tmp_path: Path) -> None:
    off = {"agentStart": False, "alertRaised": False, "inventoryChanged": False, "jobFinished": False}
    asked = bundle(policy(tmp_path / "m", triggers=off), runs=(PolicyRunRequest(id="pr_9", policy_id="marker"),))
    state = EngineState({"marker": PolicyState("v1", T0, None)})
    assert [why for _p, why, _r in engine.due(asked, state, Events())] == ["run_now"]
    changed = bundle(policy(tmp_path / "m", triggers=off, version="v2"))
    assert [why for _p, why, _r in engine.due(changed, state, Events())] == ["bundle"]


def runs_at(engine: PolicyEngine, clock: Clock, plan: PolicyBundle, when: datetime,
            events: Events | None = None) -> list[str]:
    clock.now = when
    return [result.trigger for result in engine.run(plan, events or Events())]


def test_cron_runs_at_each_slot_on_the_agents_clock_in_the_policy_zone(engine: PolicyEngine, tmp_path: Path,
                                                                        clock: Clock) -> None:
    # 07:00 in Berlin is 06:00 UTC on 27 November (CET, UTC+1); T0 is 08:00 UTC.
    plan = bundle(policy(tmp_path / "m", mode="audit", cron="0 7 * * *", timezone="Europe/Berlin"))
    assert runs_at(engine, clock, plan, T0) == ["bundle"]
    next_day = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert runs_at(engine, clock, plan, next_day - timedelta(minutes=1)) == []
    assert runs_at(engine, clock, plan, next_day) == ["schedule"]
    assert runs_at(engine, clock, plan, next_day + timedelta(minutes=30)) == []  # one run per slot
    assert runs_at(engine, clock, plan, next_day + timedelta(hours=23, minutes=59)) == []
    assert runs_at(engine, clock, plan, next_day + timedelta(days=1)) == ["schedule"]


def test_cron_without_a_zone_is_utc(engine: PolicyEngine, tmp_path: Path, clock: Clock) -> None:
    plan = bundle(policy(tmp_path / "m", mode="audit", cron="0 7 * * *"))
    assert runs_at(engine, clock, plan, T0) == ["bundle"]
    slot = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert runs_at(engine, clock, plan, slot - timedelta(seconds=1)) == []
    assert runs_at(engine, clock, plan, slot) == ["schedule"]


def test_slots_missed_while_the_agent_was_off_run_once_at_start(tmp_path: Path, clock: Clock) -> None:
    quiet = {"agentStart": False}
    plan = bundle(policy(tmp_path / "m", mode="audit", cron="*/15 * * * *", triggers=quiet))
    assert runs_at(PolicyEngine(tmp_path / "p", clock=clock), clock, plan, T0) == ["bundle"]
    # Off for three days (288 slots); a new engine is a restarted agent reading its state from disk.
    back = PolicyEngine(tmp_path / "p", clock=clock)
    later = T0 + timedelta(days=3, minutes=7)
    assert runs_at(back, clock, plan, later, Events(started=True)) == ["schedule"]
    assert runs_at(back, clock, plan, later + timedelta(minutes=1)) == []
    assert runs_at(back, clock, plan, T0 + timedelta(days=3, minutes=15)) == ["schedule"]  # the next slot


def test_a_start_run_covers_the_missed_slot(tmp_path: Path, clock: Clock) -> None:
    plan = bundle(policy(tmp_path / "m", mode="audit", cron="0 * * * *"))
    assert runs_at(PolicyEngine(tmp_path / "p", clock=clock), clock, plan, T0) == ["bundle"]
    back = PolicyEngine(tmp_path / "p", clock=clock)
    later = T0 + timedelta(hours=5, minutes=20)
    assert runs_at(back, clock, plan, later, Events(started=True)) == ["start"]
    assert runs_at(back, clock, plan, later + timedelta(minutes=5)) == []


def test_an_event_run_does_not_swallow_a_later_slot(engine: PolicyEngine, tmp_path: Path, clock: Clock) -> None:
    plan = bundle(policy(tmp_path / "m", mode="audit", cron="0 9 * * *"))
    assert runs_at(engine, clock, plan, T0) == ["bundle"]
    assert runs_at(engine, clock, plan, T0 + timedelta(minutes=59), Events(alerts=DISK)) == ["alert"]
    assert runs_at(engine, clock, plan, T0 + timedelta(hours=1)) == ["schedule"]


def test_a_clock_set_back_waits_for_the_next_slot_not_for_the_old_time(engine: PolicyEngine, tmp_path: Path,
                                                                     clock: Clock) -> None:
    plan = bundle(policy(tmp_path / "m", mode="audit", cron="0 * * * *"))
    assert runs_at(engine, clock, plan, T0 + timedelta(days=2)) == ["bundle"]  # clock far ahead, then fixed
    assert runs_at(engine, clock, plan, T0 + timedelta(minutes=10)) == []
    assert runs_at(engine, clock, plan, T0 + timedelta(hours=1)) == ["schedule"]


def test_state_written_before_cron_existed_still_reads(engine: PolicyEngine, tmp_path: Path, clock: Clock) -> None:
    old = {"policies": {"marker": {"version": "v1", "last_run": T0.isoformat(), "last_event_run": None}},
           "handled_requests": []}
    state = EngineState.from_json(old)
    assert state.policies["marker"] == PolicyState("v1", T0, None, None)
    plan = bundle(policy(tmp_path / "m", mode="audit", cron="0 9 * * *"))
    clock.now = T0 + timedelta(hours=1)
    assert [why for _p, why, _r in engine.due(plan, state, Events())] == ["schedule"]


def test_a_bundled_policy_without_cron_or_triggers_is_sent_as_before_they_existed(tmp_path: Path) -> None:
    plain = policy(tmp_path / "m").model_dump(mode="json", by_alias=True)
    assert not {"cron", "timezone", "triggers"} & set(plain)
    assert BundledPolicy.model_validate(plain) == policy(tmp_path / "m")
    timed = policy(tmp_path / "m", cron="0 7 * * *", timezone="Europe/Berlin", triggers={"agentStart": False})
    sent = timed.model_dump(mode="json", by_alias=True)
    assert (sent["cron"], sent["timezone"], sent["triggers"]["agentStart"], sent["every_seconds"]) == (
        "0 7 * * *", "Europe/Berlin", False, None)
    assert BundledPolicy.model_validate(sent) == timed


@pytest.mark.parametrize(("fields", "says"), [
    pytest.param({"every_seconds": 3600, "cron": "0 7 * * *"}, "either every_seconds or cron", id="both"),
    pytest.param({"every_seconds": None}, "either every_seconds or cron", id="neither"),
    pytest.param({"every_seconds": None, "cron": "0 7 * *"}, "has 4 fields", id="bad-cron"),
])
def test_a_bundled_policy_with_a_schedule_the_engine_cannot_read_is_refused(tmp_path: Path, fields: dict[str, Any],
                                                                           says: str) -> None:
    data = {**policy(tmp_path / "m").model_dump(mode="json", by_alias=True), **fields}
    with pytest.raises(ValueError, match=says):
        BundledPolicy.model_validate(data)
