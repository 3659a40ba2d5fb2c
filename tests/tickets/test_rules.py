"""The alert-to-ticket engine: example tests per rule feature, schema messages, and property tests.

The property tests drive the engine with random alert streams (raise/clear events over time for a
few devices and alert types) and random rule sets, through a tiny in-memory ticket store that
changes only by the engine's decisions, and check the promises the ticket service relies on.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from controller.tickets.rules import (
    Alert,
    AlertEvent,
    AnnotateTicket,
    AppendNote,
    Decision,
    Device,
    EventKind,
    NoAction,
    NoRule,
    OpenTicket,
    ResolveTicket,
    Rule,
    Suppressed,
    Ticket,
    Wait,
    escalations_due,
    evaluate,
    match_rule,
)
from schemas.alerting import AlertTicketRule, AlertTicketRuleSpec

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
SERVER = Device("agent-1", "srv-1", "acme", frozenset({"servers"}), {"site": "hq"})


def spec(**fields: Any) -> AlertTicketRuleSpec:
    return AlertTicketRuleSpec.model_validate(fields)


def alert(type: str = "disk_free", severity: str = "critical", raised_at: datetime = T0,
          client: str = "acme", cleared_at: datetime | None = None) -> Alert:
    return Alert(client=client, type=type, severity=severity, key=f"agent-1/{type}", message=f"{type} fired",
                 raised_at=raised_at, cleared_at=cleared_at, detail={"drive": "C:"})


def event(kind: EventKind = "raised", at: datetime = T0, **alert_fields: Any) -> AlertEvent:
    return AlertEvent(kind, at, alert(**alert_fields))


def ticket(key: str = "agent-1/disk_free", **fields: Any) -> Ticket:
    return Ticket(**{"id": 7, "rule": "r", "dedup_key": key, "opened_at": T0, **fields})


# --- matching and precedence ---------------------------------------------------------------------------

@pytest.mark.parametrize(("match", "expected"), [
    pytest.param({}, True, id="empty-match-takes-all"),
    pytest.param({"alertTypes": ["disk_free"]}, True, id="exact-type"),
    pytest.param({"alertTypes": ["disk_*"]}, True, id="glob-type"),
    pytest.param({"alertTypes": ["disk"]}, False, id="exact-is-not-prefix"),
    pytest.param({"alertTypes": ["cpu_*", "*_free"]}, True, id="any-pattern"),
    pytest.param({"severities": ["warning"]}, False, id="severity-other"),
    pytest.param({"severities": ["warning", "critical"]}, True, id="severity-listed"),
    pytest.param({"groups": ["laptops"]}, False, id="group-other"),
    pytest.param({"groups": ["laptops", "servers"]}, True, id="group-any"),
    pytest.param({"labels": {"site": "hq"}}, True, id="label-present"),
    pytest.param({"labels": {"site": "hq", "tier": "1"}}, False, id="label-missing"),
])
def test_match_fields(match: dict[str, Any], expected: bool) -> None:
    decision = evaluate(event(), [], SERVER, [Rule("r", None, spec(match=match))], {})
    assert isinstance(decision, OpenTicket) is expected
    assert isinstance(decision, NoRule) is not expected


def test_a_clients_rule_sees_only_that_clients_alerts() -> None:
    rules = [Rule("r", "other", spec())]
    assert isinstance(evaluate(event(), [], SERVER, rules, {}), NoRule)
    assert isinstance(evaluate(event(), [], SERVER, [Rule("r", "acme", spec())], {}), OpenTicket)


def test_first_enabled_matching_rule_by_name_wins_msp_first_on_equal_names() -> None:
    rules = [Rule("b-broad", None, spec(routing={"priority": "low"})),
             Rule("a-disabled", None, spec(enabled=False, routing={"priority": "critical"})),
             Rule("a-narrow", "acme", spec(match={"alertTypes": ["disk_*"]}, routing={"priority": "high"})),
             Rule("a-narrow", None, spec(match={"alertTypes": ["cpu_*"]}))]
    decision = evaluate(event(), [], SERVER, rules, {})
    assert isinstance(decision, OpenTicket)
    assert (decision.rule, decision.routing.priority) == ("a-narrow", "high")
    same_name = [Rule("x", "acme", spec(routing={"board": "client"})), Rule("x", None, spec(routing={"board": "msp"}))]
    chosen = evaluate(event(), [], SERVER, same_name, {})
    assert isinstance(chosen, OpenTicket) and chosen.routing.board == "msp"


# --- opening, notes, clearing -----------------------------------------------------------------------------

def test_open_ticket_carries_rendered_text_routing_and_connector() -> None:
    rule = Rule("r", None, spec(title="{{ alert.severity }}: {{ alert.detail.drive }} full on {{ device.hostname }}",
                                body="Client {{ client.name }}, labels {{ device.labels.site }}",
                                routing={"board": "Ops", "connector": "halo"}))
    decision = evaluate(event(), [], SERVER, [rule], {})
    assert decision == OpenTicket("r", "agent-1/disk_free", "critical: C: full on srv-1", "Client acme, labels hq",
                                  rule.spec.routing)
    assert decision.routing.connector == "halo"


def test_default_body_and_dedup_key() -> None:
    decision = evaluate(event(), [], SERVER, [Rule("r", None, spec())], {})
    assert isinstance(decision, OpenTicket)
    assert decision.dedup_key == "agent-1/disk_free"
    assert decision.title == "disk_free on srv-1"
    assert "disk_free fired" in decision.body and "srv-1 (agent-1)" in decision.body


def test_template_failures_fall_back_and_are_reported_on_the_decision() -> None:
    rule = Rule("r", None, spec(title="{{ alert.detail.rack }}", dedupKey="{{ device.labels.rack }}"))
    decision = evaluate(event(), [], SERVER, [rule], {})
    assert isinstance(decision, OpenTicket)
    assert decision.title == "critical disk_free on srv-1"
    assert decision.dedup_key == "agent-1/disk_free"
    assert [error.split(":")[0] for error in decision.errors] == ["dedupKey", "title"]


def test_custom_dedup_key_groups_alerts_into_one_ticket() -> None:
    rule = Rule("r", None, spec(dedupKey="{{ device.id }}"))
    first = evaluate(event(type="disk_free"), [], SERVER, [rule], {})
    assert isinstance(first, OpenTicket) and first.dedup_key == "agent-1"
    open_ticket = ticket("agent-1")
    second = evaluate(event(type="cpu_hot"), [], SERVER, [rule], {"agent-1": open_ticket})
    assert isinstance(second, AppendNote) and second.ticket == open_ticket and "cpu_hot" in second.text


@pytest.mark.parametrize("kind", ["raised", "repeated"])
def test_a_repeat_appends_a_note_to_the_open_ticket(kind: EventKind) -> None:
    open_ticket = ticket()
    decision = evaluate(event(kind, at=T0 + timedelta(minutes=3)), [], SERVER, [Rule("r", None, spec())],
                        {open_ticket.dedup_key: open_ticket})
    assert isinstance(decision, AppendNote) and "raised again" in decision.text


@pytest.mark.parametrize(("on_clear", "expected"), [
    pytest.param("resolve", ResolveTicket, id="resolve"),
    pytest.param("annotate", AnnotateTicket, id="annotate"),
    pytest.param("nothing", NoAction, id="nothing"),
])
def test_clearing_acts_per_on_clear(on_clear: str, expected: type) -> None:
    open_ticket = ticket()
    decision = evaluate(event("cleared", at=T0 + timedelta(hours=1), cleared_at=T0 + timedelta(hours=1)), [],
                        SERVER, [Rule("r", None, spec(onClear=on_clear))], {open_ticket.dedup_key: open_ticket})
    assert type(decision) is expected


def test_clearing_without_a_ticket_does_nothing() -> None:
    decision = evaluate(event("cleared", cleared_at=T0), [], SERVER, [Rule("r", None, spec())], {})
    assert isinstance(decision, NoAction)


# --- suppression ------------------------------------------------------------------------------------------

def test_persist_waits_then_opens_on_recheck_unless_cleared() -> None:
    rules = [Rule("r", None, spec(persistMinutes=15))]
    first = evaluate(event(), [], SERVER, rules, {})
    assert first == Wait("r", "agent-1/disk_free", T0 + timedelta(minutes=15))
    early = evaluate(event("repeated", at=T0 + timedelta(minutes=14)), [], SERVER, rules, {})
    assert isinstance(early, Wait)
    assert isinstance(evaluate(event("recheck", at=T0 + timedelta(minutes=15)), [], SERVER, rules, {}), OpenTicket)
    cleared = event("recheck", at=T0 + timedelta(minutes=15), cleared_at=T0 + timedelta(minutes=5))
    assert isinstance(evaluate(cleared, [], SERVER, rules, {}), NoAction)


def test_occurrences_open_a_ticket_for_a_flapping_alert() -> None:
    rules = [Rule("r", None, spec(occurrences=3, withinMinutes=30))]
    at = T0 + timedelta(minutes=20)
    old = [T0 - timedelta(minutes=40)]
    two = evaluate(event(at=at, raised_at=at), [*old, T0], SERVER, rules, {})
    assert isinstance(two, Suppressed) and "2 of 3" in two.reason
    three = evaluate(event(at=at, raised_at=at), [*old, T0, T0 + timedelta(minutes=10)], SERVER, rules, {})
    assert isinstance(three, OpenTicket)


def test_either_suppression_condition_opens_when_both_are_set() -> None:
    rules = [Rule("r", None, spec(persistMinutes=60, occurrences=2, withinMinutes=10))]
    assert isinstance(evaluate(event(), [], SERVER, rules, {}), Wait)
    assert isinstance(evaluate(event(), [T0 - timedelta(minutes=5)], SERVER, rules, {}), OpenTicket)
    assert isinstance(evaluate(event("recheck", at=T0 + timedelta(minutes=60)), [], SERVER, rules, {}), OpenTicket)


# --- escalation -------------------------------------------------------------------------------------------

def test_escalation_steps_come_due_in_order_once_and_stop_when_acknowledged() -> None:
    rule = spec(escalation=[{"afterMinutes": 30, "priority": "high"},
                            {"afterMinutes": 120, "assignee": "lead", "notify": ["oncall@example.com"]}])
    open_ticket = ticket()
    assert escalations_due(open_ticket, rule, T0 + timedelta(minutes=29)) == []
    assert escalations_due(open_ticket, rule, T0 + timedelta(minutes=30)) == [rule.escalation[0]]
    assert escalations_due(open_ticket, rule, T0 + timedelta(hours=3)) == list(rule.escalation)
    done_one = replace(open_ticket, escalation_steps_done=1)
    assert escalations_due(done_one, rule, T0 + timedelta(hours=3)) == [rule.escalation[1]]
    assert escalations_due(replace(open_ticket, acknowledged=True), rule, T0 + timedelta(hours=3)) == []


# --- schema -----------------------------------------------------------------------------------------------

def test_the_first_shape_still_validates_with_its_defaults() -> None:
    rule = AlertTicketRule.model_validate({
        "apiVersion": "fleetward/v1", "kind": "AlertTicketRule", "metadata": {"name": "critical-disk"},
        "spec": {"match": {"alertTypes": ["disk_free"], "severities": ["critical"]}, "persistMinutes": 10,
                 "routing": {"priority": "high"}, "title": "{{ alert.type }} on {{ device.hostname }}"}})
    assert rule.spec.on_clear == "resolve"
    assert rule.spec.dedup_key == "{{ device.id }}/{{ alert.type }}"
    assert rule.spec.routing.connector is None and rule.spec.escalation == []


@pytest.mark.parametrize(("fields", "location", "message"), [
    pytest.param({"title": "{{ alert.type "}, ("title",), "template syntax error at line 1", id="title-syntax"),
    pytest.param({"body": "ok\n{% if x %}"}, ("body",), "template syntax error at line 2", id="body-syntax"),
    pytest.param({"dedupKey": "{{ host }}"}, ("dedupKey",), "unknown variable(s) 'host'", id="unknown-variable"),
    pytest.param({"occurrences": 3}, (), "occurrences and withinMinutes go together", id="count-without-window"),
    pytest.param({"escalation": [{"afterMinutes": 60}, {"afterMinutes": 30}]}, ("escalation",),
                 "increasing afterMinutes order", id="escalation-order"),
    pytest.param({"escalation": [{"afterMinutes": m} for m in range(1, 12)]}, ("escalation",),
                 "at most 10 items", id="escalation-too-long"),
    pytest.param({"escalation": [{"afterMinutes": 5, "notify": ["not an address"]}]},
                 ("escalation", 0, "notify", 0), "should match pattern", id="notify-address"),
    pytest.param({"match": {"alertTypes": ["disk[0-9]"]}}, ("match", "alertTypes", 0), "should match pattern",
                 id="glob-only-star"),
    pytest.param({"onClear": "close"}, ("onClear",), "'resolve', 'annotate' or 'nothing'", id="on-clear"),
    pytest.param({"routing": {"connector": "Halo PSA"}}, ("routing", "connector"), "should match pattern",
                 id="connector-name"),
])
def test_validation_errors_say_where_and_what_to_fix(fields: dict[str, Any], location: tuple[Any, ...],
                                                    message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertTicketRuleSpec.model_validate(fields)
    errors = caught.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == location
    assert message in errors[0]["msg"]


# --- property tests ---------------------------------------------------------------------------------------

DEVICES = [Device("agent-1", "srv-1", "acme", frozenset({"servers"}), {"site": "hq"}),
           Device("agent-2", "pc-2", "acme", frozenset({"laptops"}), {}),
           Device("agent-3", "srv-3", "other", frozenset({"servers"}), {"site": "hq"})]
TYPES = ["disk_free", "disk_smart", "cpu_hot"]
SEVERITIES = ["info", "warning", "critical"]
DEDUP_KEYS = ["{{ device.id }}/{{ alert.type }}", "{{ device.hostname }}-{{ alert.type }}"]


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    rules = []
    for name in draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=0, max_size=4)):
        counted = draw(st.booleans())
        rules.append(Rule(name, draw(st.sampled_from([None, "acme", "other"])), spec(
            enabled=draw(st.booleans()),
            match={"alertTypes": draw(st.lists(st.sampled_from(["disk_*", "disk_free", "cpu_hot", "*"]), max_size=2)),
                   "severities": draw(st.lists(st.sampled_from(SEVERITIES), max_size=2)),
                   "groups": draw(st.lists(st.sampled_from(["servers", "laptops"]), max_size=1)),
                   "labels": draw(st.sampled_from([{}, {"site": "hq"}]))},
            persistMinutes=draw(st.sampled_from([0, 5, 30])),
            occurrences=draw(st.integers(2, 4)) if counted else None,
            withinMinutes=draw(st.sampled_from([10, 60])) if counted else None,
            onClear=draw(st.sampled_from(["resolve", "annotate", "nothing"])),
            dedupKey=draw(st.sampled_from(DEDUP_KEYS)),
        )))
    return rules


Step = tuple[int, int, int, bool]
"""(minutes since the previous step, device index, type index, raise? else clear)."""
streams = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 2), st.integers(0, 2), st.booleans()), max_size=40)


def oracle_rule(rules: list[Rule], current: Alert, device: Device) -> Rule | None:
    """The rule that must win, computed independently of the engine's own matching code."""
    def accepts(rule: Rule) -> bool:
        m = rule.spec.match
        return (rule.spec.enabled and rule.client in (None, current.client)
                and (not m.alert_types or any(fnmatchcase(current.type, p) for p in m.alert_types))
                and (not m.severities or current.severity in m.severities)
                and (not m.groups or bool(set(m.groups) & device.groups))
                and all(device.labels.get(k) == v for k, v in m.labels.items()))
    candidates = sorted((r for r in rules if accepts(r)), key=lambda r: (r.name, r.client is not None))
    return candidates[0] if candidates else None


@dataclass
class Record:
    event: AlertEvent
    device: Device
    decision: Decision
    had_ticket: bool


@dataclass
class Simulation:
    """An in-memory ticket store and timer queue that change only through the engine's decisions."""

    rules: list[Rule]
    severity: dict[tuple[int, int], str]
    now: datetime = T0
    alerts: dict[tuple[int, int], Alert] = field(default_factory=dict)
    history: dict[tuple[int, int], list[datetime]] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    timers: list[tuple[datetime, int, tuple[int, int]]] = field(default_factory=list)
    log: list[Record] = field(default_factory=list)

    def apply(self, which: tuple[int, int], kind: EventKind) -> None:
        device = DEVICES[which[0]]
        happening = AlertEvent(kind, self.now, self.alerts[which])
        found = match_rule(happening.alert, device, self.rules)
        had_ticket = not isinstance(found, NoRule) and found.dedup_key in self.tickets
        decision = evaluate(happening, self.history.get(which, []), device, self.rules, self.tickets)
        self.log.append(Record(happening, device, decision, had_ticket))
        if isinstance(decision, OpenTicket):
            assert decision.dedup_key not in self.tickets, "a second ticket for an open dedup key"
            self.tickets[decision.dedup_key] = Ticket(len(self.log), decision.rule, decision.dedup_key, self.now)
        elif isinstance(decision, AppendNote | AnnotateTicket | ResolveTicket):
            assert self.tickets[decision.ticket.dedup_key] == decision.ticket
            if isinstance(decision, ResolveTicket):
                del self.tickets[decision.ticket.dedup_key]
        elif isinstance(decision, Wait):
            assert decision.until > self.now
            heapq.heappush(self.timers, (decision.until, len(self.log), which))

    def run_timers(self, until: datetime | None) -> None:
        while self.timers and (until is None or self.timers[0][0] <= until):
            at, _, which = heapq.heappop(self.timers)
            self.now = max(self.now, at)
            self.apply(which, "recheck")

    def step(self, minutes: int, device: int, type_index: int, raising: bool) -> None:
        which = (device, type_index)
        self.run_timers(self.now + timedelta(minutes=minutes))
        self.now += timedelta(minutes=minutes)
        current = self.alerts.get(which)
        is_open = current is not None and current.cleared_at is None
        if raising:
            self.history.setdefault(which, []).append(self.now)
            if current is None or not is_open:
                self.alerts[which] = Alert(DEVICES[device].client, TYPES[type_index], self.severity[which],
                                           f"{DEVICES[device].id}/{TYPES[type_index]}", "fired", self.now)
            self.apply(which, "repeated" if is_open else "raised")
        elif current is not None and is_open:
            self.alerts[which] = replace(current, cleared_at=self.now)
            self.apply(which, "cleared")


def run(rules: list[Rule], severity: dict[tuple[int, int], str], steps: list[Step]) -> Simulation:
    simulation = Simulation(rules, severity)
    for step in steps:
        simulation.step(*step)
    simulation.run_timers(None)
    return simulation


severity_maps = st.fixed_dictionaries({(d, t): st.sampled_from(SEVERITIES) for d in range(3) for t in range(3)})
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(rule_sets(), severity_maps, streams)
def test_alert_streams_keep_the_ticket_promises(rules: list[Rule], severity: dict[tuple[int, int], str],
                                                steps: list[Step]) -> None:
    simulation = run(rules, severity, steps)
    for record in simulation.log:
        expected = oracle_rule(rules, record.event.alert, record.device)
        decision = record.decision
        # No ticket (and no decision at all) without a matching rule; the first one by name wins.
        assert isinstance(decision, NoRule) is (expected is None)
        if expected is None:
            continue
        if isinstance(decision, OpenTicket):
            assert decision.rule == expected.name
            assert record.event.alert.cleared_at is None
            persist = expected.spec.persist_minutes
            if expected.spec.occurrences is None and persist:
                # Flapping inside the persist window never opens a ticket.
                assert record.event.at - record.event.alert.raised_at >= timedelta(minutes=persist)
        if record.event.kind == "cleared":
            # Clearing acts per onClear, and only on an existing ticket.
            wanted = {"resolve": ResolveTicket, "annotate": AnnotateTicket, "nothing": NoAction}
            assert type(decision) is (wanted[expected.spec.on_clear] if record.had_ticket else NoAction)
        if record.had_ticket and record.event.kind in ("raised", "repeated"):
            # A repeat notes the open ticket; it never opens a second one.
            assert isinstance(decision, AppendNote)
    # Every matched alert still open past its suppression window has its one open ticket.
    for which, current in simulation.alerts.items():
        device = DEVICES[which[0]]
        expected = oracle_rule(rules, current, device)
        if current.cleared_at is not None or expected is None:
            continue
        waits_out = expected.spec.persist_minutes > 0 or expected.spec.occurrences is None
        if waits_out:
            found = match_rule(current, device, rules)
            assert not isinstance(found, NoRule)
            assert found.dedup_key in simulation.tickets


@PROPERTY_SETTINGS
@given(st.integers(5, 120), st.lists(st.tuples(st.integers(0, 119), st.integers(0, 119)), min_size=1, max_size=20),
       st.sampled_from(SEVERITIES))
def test_a_flapping_alert_inside_its_persist_window_opens_no_ticket(
        persist: int, gaps: list[tuple[int, int]], level: str) -> None:
    rules = [Rule("flap", None, spec(persistMinutes=persist))]
    steps: list[Step] = []
    for before, lasting in gaps:
        steps += [(before, 0, 0, True), (min(lasting, persist - 1), 0, 0, False)]
    simulation = run(rules, dict.fromkeys([(0, 0)], level), steps)
    assert simulation.tickets == {}
    assert not any(isinstance(record.decision, OpenTicket) for record in simulation.log)
    assert any(isinstance(record.decision, Wait) for record in simulation.log)


@PROPERTY_SETTINGS
@given(st.lists(st.integers(0, 30), min_size=1, max_size=30), st.sampled_from(["resolve", "annotate", "nothing"]))
def test_repeats_of_an_open_alert_never_open_a_second_ticket(gaps: list[int], on_clear: str) -> None:
    rules = [Rule("r", None, spec(persistMinutes=10, onClear=on_clear))]
    simulation = run(rules, {(0, 0): "critical"}, [(gap, 0, 0, True) for gap in gaps])
    opened = [record for record in simulation.log if isinstance(record.decision, OpenTicket)]
    assert len(opened) == 1
    assert list(simulation.tickets) == ["agent-1/disk_free"]
