"""The alert-to-ticket decision engine: plain data in, one decision out, no I/O.

The caller (the ticket service) gathers the facts — the alert event, the times the alert was
raised recently, the device, the rules in scope and the open ticket for the dedup key — and
performs whatever this module decides. Keeping the decision pure lets property tests drive it with
random alert streams and a tiny in-memory store (``tests/tickets/test_rules.py``).

Two steps, because the open ticket is looked up by a key the rule defines:

1. :func:`match_rule` picks the rule and renders its dedup key. Precedence: the rules in scope
   (MSP-wide ones plus the alert's client's; a rule of another client is never considered) sorted
   by name, MSP-wide before the client's on equal names; the first *enabled* rule whose match
   accepts the alert and device wins. Later rules are not consulted, so a narrow rule named
   ``00-...`` can take alerts before a broad one.
2. :func:`decide` turns the event into a decision. With an open ticket for the key: a raise adds a
   note (never a second ticket), a clear resolves, annotates or does nothing per ``onClear``.
   Without one: a clear or a cleared alert does nothing; otherwise suppression is checked.

Suppression: the conditions a rule sets are ``persistMinutes`` (when > 0: the alert has been open
that long) and ``occurrences``/``withinMinutes`` (the alert was raised that many times in the
window). With none set a ticket opens at once; with some set, any one of them met opens it. While
the persist condition is pending the decision is :class:`Wait` — the caller re-evaluates then with
a ``recheck`` event, and a cleared alert stays ticketless. When only the count is pending the
decision is :class:`Suppressed`: the next raise decides again.

:func:`escalations_due` is separate: the caller runs it on a timer for unacknowledged tickets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

from controller.tickets.rendering import render_body, render_dedup_key, render_title
from schemas.alerting import AlertTicketRuleSpec, EscalationStep, Routing

EventKind = Literal["raised", "repeated", "cleared", "recheck"]
"""``raised``: newly opened; ``repeated``: raised again while open; ``cleared``: closed;
``recheck``: no news, the caller re-evaluates at a :class:`Wait`'s time."""

MAX_HISTORY = 10_000


@dataclass(frozen=True)
class Alert:
    """The alert as stored (``controller.store.alerts.AlertRow``'s fields the rules need)."""

    client: str
    type: str
    severity: str
    key: str
    message: str
    raised_at: datetime
    """When this open episode started: a ``repeated`` raise keeps it, a new ``raised`` resets it."""
    cleared_at: datetime | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertEvent:
    kind: EventKind
    at: datetime
    alert: Alert


@dataclass(frozen=True)
class Device:
    id: str
    hostname: str
    client: str
    groups: frozenset[str] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A loaded ``AlertTicketRule``: its name, its scope (None: MSP-wide) and its spec."""

    name: str
    client: str | None
    spec: AlertTicketRuleSpec


@dataclass(frozen=True)
class Ticket:
    """The open ticket for a dedup key, as the store knows it."""

    id: int
    rule: str
    dedup_key: str
    opened_at: datetime
    acknowledged: bool = False
    escalation_steps_done: int = 0


@dataclass(frozen=True)
class RuleMatch:
    rule: Rule
    dedup_key: str
    error: str | None = None
    """Why the dedup key fell back to the default, if it did."""


@dataclass(frozen=True)
class OpenTicket:
    rule: str
    dedup_key: str
    title: str
    body: str
    routing: Routing
    errors: tuple[str, ...] = ()
    """Template errors behind fallback text: show them on the ticket and in the rule's status."""


@dataclass(frozen=True)
class AppendNote:
    ticket: Ticket
    text: str


@dataclass(frozen=True)
class ResolveTicket:
    ticket: Ticket
    note: str


@dataclass(frozen=True)
class AnnotateTicket:
    ticket: Ticket
    text: str


@dataclass(frozen=True)
class Wait:
    """Not yet: re-evaluate with a ``recheck`` event at ``until`` if the alert is still open."""

    rule: str
    dedup_key: str
    until: datetime


@dataclass(frozen=True)
class Suppressed:
    """Held back by the occurrence count alone; nothing to schedule, the next raise decides again."""

    rule: str
    dedup_key: str
    reason: str


@dataclass(frozen=True)
class NoRule:
    """No enabled rule in scope matches this alert on this device."""


@dataclass(frozen=True)
class NoAction:
    """A rule matches but nothing is to be done (e.g. a clear with no open ticket, ``onClear: nothing``)."""

    reason: str


Decision = OpenTicket | AppendNote | ResolveTicket | AnnotateTicket | Wait | Suppressed | NoRule | NoAction


@cache
def _type_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def alert_type_matches(pattern: str, alert_type: str) -> bool:
    """Whether ``alert_type`` matches ``pattern``, where only ``*`` is special (any run of characters)."""
    return _type_pattern(pattern).fullmatch(alert_type) is not None


def rule_matches(rule: Rule, alert: Alert, device: Device) -> bool:
    """Whether an enabled ``rule`` in scope for the alert's client accepts this alert on this device."""
    if not rule.spec.enabled or (rule.client is not None and rule.client != alert.client):
        return False
    match = rule.spec.match
    if match.alert_types and not any(alert_type_matches(p, alert.type) for p in match.alert_types):
        return False
    if match.severities and alert.severity not in match.severities:
        return False
    if match.groups and not device.groups.intersection(match.groups):
        return False
    return all(device.labels.get(key) == value for key, value in match.labels.items())


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    """The precedence order: by name, MSP-wide before a client's rule of the same name."""
    return sorted(rules, key=lambda rule: (rule.name, rule.client is not None, rule.client or ""))


def context(alert: Alert, device: Device) -> dict[str, Any]:
    """What templates see: ``alert``, ``device`` and ``client`` (plain values, nothing callable)."""
    return {
        "alert": {"type": alert.type, "severity": alert.severity, "key": alert.key, "message": alert.message,
                  "detail": dict(alert.detail), "raised_at": alert.raised_at.isoformat(),
                  "client": alert.client},
        "device": {"id": device.id, "hostname": device.hostname, "client": device.client,
                   "groups": sorted(device.groups), "labels": dict(device.labels)},
        "client": {"name": alert.client},
    }


def match_rule(alert: Alert, device: Device, rules: Iterable[Rule]) -> RuleMatch | NoRule:
    """The first matching enabled rule in precedence order, with its rendered dedup key."""
    for rule in ordered(rules):
        if rule_matches(rule, alert, device):
            key = render_dedup_key(rule.spec.dedup_key, context(alert, device))
            return RuleMatch(rule, key.text, key.error)
    return NoRule()


def _raised_in_window(event: AlertEvent, history: Sequence[datetime], minutes: int) -> int:
    """How many distinct raise times fall in the ``minutes`` before the event (the event's own raise included)."""
    start = event.at - timedelta(minutes=minutes)
    times = {at for at in history[-MAX_HISTORY:] if start <= at <= event.at}
    if event.kind == "raised":
        times.add(event.at)
    return len(times)


def _open(match: RuleMatch, alert: Alert, device: Device) -> OpenTicket:
    spec = match.rule.spec
    values = context(alert, device)
    title = render_title(spec.title, values)
    body = render_body(spec.body, values)
    errors = tuple(error for error in (match.error, title.error, body.error) if error is not None)
    return OpenTicket(match.rule.name, match.dedup_key, title.text, body.text, spec.routing, errors)


def decide(event: AlertEvent, history: Sequence[datetime], device: Device, match: RuleMatch | NoRule,
           ticket: Ticket | None) -> Decision:
    """The one thing to do about ``event``, given the rule match and the open ticket for its dedup key.

    ``history`` holds the times this alert (same key) was raised recently; only those within the
    rule's ``withinMinutes`` before the event count. Promises: never an :class:`OpenTicket` when a
    ticket is given or the alert is cleared, and never anything but :class:`NoRule` without a rule.
    """
    if isinstance(match, NoRule):
        return match
    spec = match.rule.spec
    alert = event.alert
    if ticket is not None:
        if event.kind == "cleared":
            note = f"Alert {alert.key} cleared at {event.at.isoformat()}."
            if spec.on_clear == "resolve":
                return ResolveTicket(ticket, note)
            if spec.on_clear == "annotate":
                return AnnotateTicket(ticket, note)
            return NoAction("the rule's onClear is 'nothing'")
        if event.kind == "recheck":
            return NoAction("the ticket is already open")
        return AppendNote(ticket, f"Alert {alert.key} raised again at {event.at.isoformat()}: {alert.message}")
    if event.kind == "cleared" or alert.cleared_at is not None:
        return NoAction("the alert is cleared and has no open ticket")
    persist_set = spec.persist_minutes > 0
    count_set = spec.occurrences is not None and spec.within_minutes is not None
    if not persist_set and not count_set:
        return _open(match, alert, device)
    persist_until = alert.raised_at + timedelta(minutes=spec.persist_minutes)
    if persist_set and event.at >= persist_until:
        return _open(match, alert, device)
    if count_set and spec.occurrences is not None and spec.within_minutes is not None:
        seen = _raised_in_window(event, history, spec.within_minutes)
        if seen >= spec.occurrences:
            return _open(match, alert, device)
        if not persist_set:
            return Suppressed(match.rule.name, match.dedup_key,
                              f"raised {seen} of {spec.occurrences} times within {spec.within_minutes} minutes")
    return Wait(match.rule.name, match.dedup_key, persist_until)


def evaluate(event: AlertEvent, history: Sequence[datetime], device: Device, rules: Iterable[Rule],
             open_tickets: Mapping[str, Ticket]) -> Decision:
    """:func:`match_rule` then :func:`decide`, with the open tickets given by dedup key."""
    match = match_rule(event.alert, device, rules)
    if isinstance(match, NoRule):
        return match
    return decide(event, history, device, match, open_tickets.get(match.dedup_key))


def escalations_due(ticket: Ticket, rule: AlertTicketRuleSpec, now: datetime) -> list[EscalationStep]:
    """The escalation steps now due and not yet applied, in order; none once the ticket is acknowledged.

    The caller applies them and records ``escalation_steps_done += len(result)``, so each step
    applies once even if the timer runs late or twice.
    """
    if ticket.acknowledged:
        return []
    waited = now - ticket.opened_at
    return [step for step in rule.escalation[ticket.escalation_steps_done:]
            if waited >= timedelta(minutes=step.after_minutes)]
