"""The policy engine: decide which policies run now, run them, and queue one result per run.

Each cycle the agent hands the engine the held bundle and what happened (:class:`Events`). A
policy runs when, in this order of reasons (the first that holds is the result's ``trigger``):

* ``run_now`` - the bundle carries an operator's run-now request for it not handled yet;
* ``bundle`` - it is new, or its version changed since it last ran;
* ``start`` - the agent (re)started, unless the policy's triggers turn ``agentStart`` off;
* ``alert`` / ``inventory`` / ``job`` - a monitor raised an alert (of one of the policy's
  ``alertTypes``, when it names some), an inventory section changed, or a job finished, each only
  when the policy's triggers keep it on; event runs of a policy are at least :data:`EVENT_GAP` apart;
* ``schedule`` - ``every`` has passed since it last ran, or a ``cron`` slot (in the policy's time
  zone, on this machine's clock) came since it last started. A run covers every slot before it
  started, so slots missed while the agent was off make one run when it is back, not one each.

A run evaluates every check (:func:`agent.policies.checks.evaluate`; a check type the OS does not
have is *not applicable*). In ``enforce`` mode a non-compliant check with a remediation runs that
Script (hash-checked, parameters as ``PARAM_<name>``) and is then evaluated again: the result
keeps both statuses and what the script said. ``audit`` mode never changes the machine.

Results go to the on-disk outbox before the state says the policy ran, so a crash between the
two at worst runs a policy twice; nothing is lost.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from agent.errors import ConfigError
from agent.policies.checks import Host, ScriptSource, evaluate
from agent.policies.outbox import ResultOutbox
from agent.scripting import ScriptRefused, resolve_params, run_script
from agent.state import read_json, write_json
from schemas.checks import Check
from schemas.cron import Cron, next_start, parse_cron
from schemas.protocol import (
    MAX_EVIDENCE_CHARS,
    BundledPolicy,
    BundledScript,
    CheckOutcome,
    PolicyBundle,
    PolicyResult,
    PolicyTrigger,
    policy_status,
)

log = logging.getLogger(__name__)

EVENT_GAP = timedelta(minutes=5)
MAX_HANDLED_REQUESTS = 500


@dataclass(frozen=True)
class Events:
    """What happened since the last cycle that can make policies run early."""

    started: bool = False
    alerts: frozenset[str] = frozenset()
    """Types of the alerts raised this cycle (``agent.disk``, ...)."""
    inventory_changed: bool = False
    job_finished: bool = False


@dataclass
class PolicyState:
    version: str = ""
    last_run: datetime | None = None
    """When the last run finished (the interval counts from here)."""
    last_event_run: datetime | None = None
    last_start: datetime | None = None
    """When the last run started: cron slots up to here are covered."""


@dataclass
class EngineState:
    policies: dict[str, PolicyState] = field(default_factory=dict)
    handled_requests: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"policies": {ref: {"version": state.version, "last_run": iso(state.last_run),
                                   "last_event_run": iso(state.last_event_run), "last_start": iso(state.last_start)}
                             for ref, state in self.policies.items()},
                "handled_requests": self.handled_requests[-MAX_HANDLED_REQUESTS:]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineState:
        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        return cls({ref: PolicyState(str(item.get("version", "")), when(item.get("last_run")),
                                     when(item.get("last_event_run")), when(item.get("last_start")))
                    for ref, item in dict(data.get("policies", {})).items()},
                   [str(item) for item in data.get("handled_requests", [])])


Due = tuple[BundledPolicy, PolicyTrigger, str | None]
"""A policy to run now, why, and the run-now request it answers (if any)."""


def script_source(script: BundledScript) -> ScriptSource:
    return ScriptSource(name=script.name, shell=script.shell, content=script.text.encode("utf-8"),
                        sha256=script.sha256, timeout_seconds=float(script.timeout_seconds), os=tuple(script.os),
                        parameters=tuple(script.parameters))


class PolicyEngine:
    def __init__(self, folder: Path, *, clock: Callable[[], datetime],
                 host_factory: Callable[[Callable[[str], ScriptSource | None]], Host] | None = None) -> None:
        self.folder = folder
        self.clock = clock
        self.outbox = ResultOutbox(folder / "results")
        self._host_factory = host_factory or (lambda scripts: Host(scripts=scripts))
        self._state_path = folder / "state.json"

    def load_state(self) -> EngineState:
        if not self._state_path.is_file():
            return EngineState()
        try:
            return EngineState.from_json(read_json(self._state_path))
        except (ConfigError, ValueError, TypeError, AttributeError) as exc:
            log.warning("policy engine state unreadable (%s); every policy runs again", exc)
            return EngineState()

    def save_state(self, state: EngineState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_json(self._state_path, state.to_json(), mode=0o600)

    def due(self, bundle: PolicyBundle, state: EngineState, events: Events) -> list[Due]:
        """(policy, trigger, run request) for each policy that runs now (pure: decides, does nothing)."""
        now = self.clock()
        requested = {run.policy_id: run.id for run in bundle.run_requests if run.id not in state.handled_requests}
        chosen: list[Due] = []
        for policy in bundle.policies:
            held = state.policies.get(policy.id)
            event_ok = held is None or held.last_event_run is None or now - held.last_event_run >= EVENT_GAP
            on = policy.triggers
            trigger: PolicyTrigger | None = None
            if policy.id in requested:
                trigger = "run_now"
            elif held is None or held.version != policy.version:
                trigger = "bundle"
            elif events.started and on.agent_start:
                trigger = "start"
            elif event_ok and on.fires_on_alerts(events.alerts):
                trigger = "alert"
            elif events.inventory_changed and on.inventory_changed and event_ok:
                trigger = "inventory"
            elif events.job_finished and on.job_finished and event_ok:
                trigger = "job"
            elif scheduled(policy, held, now):
                trigger = "schedule"
            if trigger is not None:
                chosen.append((policy, trigger, requested.get(policy.id) if trigger == "run_now" else None))
        return chosen

    def run(self, bundle: PolicyBundle, events: Events) -> list[PolicyResult]:
        """Run the due policies of ``bundle``; each result is queued on disk before this returns."""
        state = self.load_state()
        _clamp_to(state, self.clock())
        scripts = {script.ref: script for script in bundle.scripts}
        results: list[PolicyResult] = []
        for policy, trigger, request in self.due(bundle, state, events):
            result = self.run_policy(policy, scripts, trigger, request)
            self.outbox.put(result)
            results.append(result)
            held = state.policies.setdefault(policy.id, PolicyState())
            held.version, held.last_run, held.last_start = policy.version, result.finished_at, result.started_at
            if trigger in ("alert", "inventory", "job"):
                held.last_event_run = result.finished_at
            if request is not None:
                state.handled_requests.append(request)
        current = {policy.id for policy in bundle.policies}
        state.policies = {ref: held for ref, held in state.policies.items() if ref in current}
        self.save_state(state)
        return results

    def run_policy(self, policy: BundledPolicy, scripts: dict[str, BundledScript], trigger: PolicyTrigger,
                   request: str | None = None) -> PolicyResult:
        def lookup(name: str) -> ScriptSource | None:
            ref = policy.scripts.get(name)
            found = scripts.get(ref) if ref is not None else None
            return script_source(found) if found is not None else None

        host = self._host_factory(lookup)
        started = self.clock()
        outcomes = [self._check(check, host, policy.mode, lookup) for check in policy.checks]
        return PolicyResult(id=uuid.uuid4().hex, policy_id=policy.id, version=policy.version,
                            status=policy_status([outcome.status for outcome in outcomes]), mode=policy.mode,
                            trigger=trigger, run_request=request, started_at=started, finished_at=self.clock(),
                            checks=outcomes)

    def _check(self, check: Check, host: Host, mode: str, lookup: Callable[[str], ScriptSource | None]) \
            -> CheckOutcome:
        first = evaluate(check, host)
        if first.status != "non_compliant" or mode != "enforce" or check.remediation is None:
            return CheckOutcome(name=first.name, type=first.type, status=first.status, evidence=first.evidence)
        said = _remediate(check, host, lookup)
        again = evaluate(check, host)
        return CheckOutcome(name=again.name, type=again.type, status=again.status, evidence=again.evidence,
                            first_status=first.status, remediation=said[:MAX_EVIDENCE_CHARS])


def _clamp_to(state: EngineState, now: datetime) -> None:
    """Times after ``now`` become ``now``: a clock set back (a bad RTC fixed by NTP) must not hold
    schedules until it has caught up with what it once said."""
    for held in state.policies.values():
        held.last_run, held.last_event_run, held.last_start = (
            min(when, now) if when is not None else None
            for when in (held.last_run, held.last_event_run, held.last_start))


def scheduled(policy: BundledPolicy, held: PolicyState, now: datetime) -> bool:
    """Whether the policy's schedule has come round since its last run (``now`` on this machine's clock)."""
    if policy.cron is None:
        every = timedelta(seconds=policy.every_seconds or 3600)
        return held.last_run is None or now - held.last_run >= every
    since = held.last_start or held.last_run
    if since is None:
        return True
    slot = next_start(_cron(policy.cron), _zone(policy.timezone), since)
    return slot is not None and slot <= now


@lru_cache(maxsize=256)
def _cron(expression: str) -> Cron:
    return parse_cron(expression)  # the bundle was validated, so the expression parses


@lru_cache(maxsize=64)
def _zone(name: str | None) -> ZoneInfo:
    """The policy's zone; UTC when there is none or this machine's zone database lacks it."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r is unknown on this machine; cron times are read in UTC", name)
        return ZoneInfo("UTC")


def _remediate(check: Check, host: Host, lookup: Callable[[str], ScriptSource | None]) -> str:
    """Run ``check``'s remediation; what happened, in words (never raises)."""
    assert check.remediation is not None
    name = check.remediation.script
    source = lookup(name)
    if source is None:
        return f"remediation script {name!r} was not delivered with the policy; nothing ran"
    if host.os not in source.os:
        return f"remediation script {name!r} is for {', '.join(source.os)}, not {host.os}; nothing ran"
    try:
        params = resolve_params(source.parameters, check.remediation.params, script=name)
        result = run_script(source.content, shell=source.shell, sha256=source.sha256,
                            timeout=source.timeout_seconds, params=params, run_as=source.run_as,
                            work_root=host.script_root)
    except ScriptRefused as refused:
        return f"remediation script {name!r} not run: {refused}"
    except (OSError, ValidationError) as exc:
        return f"remediation script {name!r} could not start: {exc}"
    return f"remediation {name!r} {result.describe()}: {result.evidence or '(no output)'}"
