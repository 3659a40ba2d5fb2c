"""The policy bundle each agent fetches (``GET /api/agent/v1/policies``) and its version.

For one applied revision every Policy is turned once into a :class:`PolicyEntry`: its checks
(inline, or its PolicyTemplate as the loader expanded it: :meth:`DesiredState.checks_of`), every
Script they name - for a check or a remediation, resolved from the policy's scope (its client's
Script first, then MSP-wide) - with the text and SHA-256 the loader read from the same revision
(:meth:`DesiredState.script_file`), and a version digesting all of that. A policy that cannot be
delivered gets no entry; its problem is logged once per revision and its targets stay *unknown*
in compliance.

Which policies apply to an agent is the planner's targeting (:class:`Targeting`) run for that one
agent. The bundle's version is a digest of the applied entries' versions and the agent's pending
run-now requests, cached per revision and agent, so a check-in costs a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.desired import DesiredState, Loaded
from controller.errors import FleetwardError
from controller.observed import ObservedAgent
from controller.planning.targeting import Targeting
from schemas.checks import Check, ScriptCheck
from schemas.ids import AgentId
from schemas.jobs import canonical_json
from schemas.policies import Policy
from schemas.protocol import BundledPolicy, BundledScript, PolicyBundle, PolicyRunRequest
from schemas.scripts import Script

log = logging.getLogger(__name__)

_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400}


@dataclass(frozen=True)
class PolicyEntry:
    policy: BundledPolicy
    scripts: tuple[BundledScript, ...]


def every_seconds(every: str) -> int:
    """``30m`` / ``4h`` / ``1d`` in seconds (the schema guarantees the shape); at least a minute."""
    return max(60, int(every[:-1]) * _UNIT_SECONDS[every[-1]])


def script_names(checks: Sequence[Check]) -> list[str]:
    """Every Script the checks run, for the check itself or as remediation, in first-use order."""
    names: list[str] = []
    for check in checks:
        for name in (check.script if isinstance(check, ScriptCheck) else None,
                     check.remediation.script if check.remediation is not None else None):
            if name is not None and name not in names:
                names.append(name)
    return names


def policy_entry(desired: DesiredState, policy: Loaded[Policy]) -> PolicyEntry:
    """What the agent receives for ``policy``; FleetwardError (with the fix) when it cannot be delivered."""
    checks = list(desired.checks_of(policy))
    scripts: list[BundledScript] = []
    for name in script_names(checks):
        loaded = desired.resolve(Script, policy.scope, name)
        if loaded is None:  # the loader refuses dangling references; a stale revision could still have one
            raise FleetwardError(f"policy {policy.ref} ({policy.location}) uses Script {name!r}, which is not "
                                 "in the revision", hint="add the Script or fix the name")
        file = desired.script_file(loaded)
        if file is None:  # only a DesiredState the loader did not build lacks its files
            raise FleetwardError(f"the text of Script {loaded.ref} ({loaded.resource.spec.file}) is not loaded",
                                 hint="load the revision with the fleet loader")
        text, digest = file.text, file.sha256
        declared = loaded.resource.spec
        scripts.append(BundledScript(name=name, ref=loaded.ref, shell=declared.shell, text=text, sha256=digest,
                                     timeout_seconds=declared.timeout_seconds, os=list(declared.os),
                                     parameters=list(declared.parameters)))
    spec = policy.resource.spec
    content = BundledPolicy(id=policy.ref, version="-", mode=spec.mode,
                            every_seconds=every_seconds(spec.schedule.every), checks=checks,
                            scripts={script.name: script.ref for script in scripts})
    digest = hashlib.sha256(canonical_json({
        "policy": content.model_dump(mode="json", by_alias=True, exclude={"version"}),
        "scripts": {script.ref: script.sha256 for script in scripts},
    }).encode()).hexdigest()[:16]
    return PolicyEntry(content.model_copy(update={"version": digest}), tuple(scripts))


def assigned_policies(desired: DesiredState, agents: Sequence[ObservedAgent]) -> dict[str, frozenset[AgentId]]:
    """Policy ref -> the agents (of ``agents``) it targets, by the planner's targeting."""
    targeting = Targeting(desired, agents)
    found: dict[str, frozenset[AgentId]] = {}
    for policy in desired.of_kind(Policy).values():
        targets = targeting.targets_of(policy.scope, policy.resource.spec.targets)
        if targets:
            found[policy.ref] = targets
    return found


def observed_agent(agent_id: str, client: str, labels: Mapping[str, str]) -> ObservedAgent:
    """The little of an agent targeting reads (labels carry the reported hostname)."""
    return ObservedAgent(agent_id=AgentId(agent_id), client=client, hostname=labels.get("hostname", ""),
                         labels=labels)


class PolicyBundles:
    """Per applied revision: every policy's entry (built once) and each agent's assigned policies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._entries: dict[str, PolicyEntry] | None = None
        self._assigned: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, ...]] = {}

    def entries(self, desired: DesiredState) -> Mapping[str, PolicyEntry]:
        """Every deliverable policy of ``desired`` by ref."""
        with self._lock:
            self._switch(desired)
            if self._entries is None:
                self._entries = self._build(desired)
            return self._entries

    def _switch(self, desired: DesiredState) -> None:
        if desired.revision != self._revision:
            self._revision, self._entries, self._assigned = desired.revision, None, {}

    def _build(self, desired: DesiredState) -> dict[str, PolicyEntry]:
        built: dict[str, PolicyEntry] = {}
        for policy in desired.of_kind(Policy).values():
            try:
                built[policy.ref] = policy_entry(desired, policy)
            except FleetwardError as problem:
                log.warning("policy %s is not delivered to agents: %s", policy.ref, problem)
        return built

    def assigned(self, desired: DesiredState, agent_id: str, client: str, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Refs of the deliverable policies that target this agent, sorted."""
        key = (agent_id, tuple(sorted(labels.items())))
        entries = self.entries(desired)
        with self._lock:
            found = self._assigned.get(key)
        if found is None:
            targets = assigned_policies(desired, [observed_agent(agent_id, client, labels)])
            found = tuple(sorted(ref for ref in targets if ref in entries))
            with self._lock:
                if desired.revision == self._revision:
                    self._assigned[key] = found
        return found

    def version(self, desired: DesiredState | None, agent_id: str, client: str, labels: Mapping[str, str],
                runs: Sequence[PolicyRunRequest] = ()) -> str:
        """The check-in's ``policies_version``: '' when nothing applies and nothing is requested."""
        if desired is None:
            return ""
        refs = self.assigned(desired, agent_id, client, labels)
        if not refs:
            return ""
        entries = self.entries(desired)
        return _digest([(ref, entries[ref].policy.version) for ref in refs],
                       [run for run in runs if run.policy_id in refs])

    def bundle(self, desired: DesiredState | None, agent_id: str, client: str, labels: Mapping[str, str],
               runs: Sequence[PolicyRunRequest] = ()) -> PolicyBundle:
        if desired is None:
            return PolicyBundle(agent_id=agent_id, revision="", version="")
        refs = self.assigned(desired, agent_id, client, labels)
        entries = self.entries(desired)
        scripts: dict[str, BundledScript] = {}
        for ref in refs:
            for script in entries[ref].scripts:
                scripts[script.ref] = script
        wanted = [run for run in runs if run.policy_id in refs]
        return PolicyBundle(
            agent_id=agent_id, revision=desired.revision,
            version=self.version(desired, agent_id, client, labels, runs),
            policies=[entries[ref].policy for ref in refs],
            scripts=[scripts[ref] for ref in sorted(scripts)], run_requests=wanted)


def _digest(versions: list[tuple[str, str]], runs: Sequence[PolicyRunRequest]) -> str:
    content = {"policies": versions, "runs": sorted((run.id, run.policy_id) for run in runs)}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()[:16]
