"""The policy bundle each agent fetches (``GET /api/agent/v1/policies``) and its version.

For one applied revision every policy variant (:func:`~controller.planning.inheriting.effective_policies`:
a Policy, or an MSP-wide baseline as one client's override changes it) is turned once into a
:class:`PolicyEntry`: its checks (inline, or its PolicyTemplate as the loader expanded it), every
Script they name - for a check or a remediation, resolved from the scope the check was written in
(its client's Script first, then MSP-wide) - with the text and SHA-256 the loader read from the
same revision (:meth:`DesiredState.script_file`), and a version digesting all of that. A variant
keeps its Policy's id (an override's is its baseline's), so only the version tells them apart. A
policy that cannot be delivered gets no entry; its problem is logged once per revision and its
targets stay *unknown* in compliance.

An entry carries the policy's schedule (``every`` in seconds, or ``cron`` with its time zone) and
its event triggers. A cron schedule without a time zone is read in the device's client's zone, as
maintenance windows are: a client's Policy (or a client's override) gets its client's zone in its
entry; an MSP-wide one gets the zone of each agent's client when that agent's bundle is built.

Which policies apply to an agent is the planner's targeting (:class:`Targeting`) run for that one
agent, with overrides and exclusions (:class:`~controller.planning.inheriting.PolicyTargeting`).
The bundle's version is a digest of the applied entries' versions (with the client's zone for the
MSP-wide cron policies that read it) and the agent's pending run-now requests, cached per revision
and agent, so a check-in costs a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.desired import DesiredState
from controller.errors import FleetwardError
from controller.observed import ObservedAgent
from controller.planning.inheriting import EffectivePolicy, PolicyTargeting, VariantKey, effective_policies
from controller.planning.targeting import Targeting
from schemas.checks import Check, ScriptCheck
from schemas.clients import Client
from schemas.ids import AgentId
from schemas.jobs import canonical_json
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


def script_names(checks: Sequence[Check]) -> list[tuple[Check, str]]:
    """(check, Script name) for every Script the checks run, for the check itself or as remediation."""
    names: list[tuple[Check, str]] = []
    for check in checks:
        for name in (check.script if isinstance(check, ScriptCheck) else None,
                     check.remediation.script if check.remediation is not None else None):
            if name is not None:
                names.append((check, name))
    return names


def policy_entry(desired: DesiredState, effective: EffectivePolicy,
                 zones: Mapping[str, str] | None = None) -> PolicyEntry:
    """What the agent receives for ``effective``; FleetwardError (with the fix) when it cannot be delivered.

    ``zones`` are :func:`client_zones` of ``desired`` when the caller has them already.
    """
    policy = effective.policy
    where = str(effective.override.location if effective.override is not None else policy.location)
    checks = list(effective.checks)
    scripts: dict[str, BundledScript] = {}
    for check, name in script_names(checks):
        loaded = desired.resolve(Script, effective.script_scope(check), name)
        if loaded is None:  # the loader refuses dangling references; a stale revision could still have one
            raise FleetwardError(f"policy {policy.ref} ({where}) uses Script {name!r}, which is not "
                                 "in the revision", hint="add the Script or fix the name")
        if name in scripts:
            if scripts[name].ref != loaded.ref:
                raise FleetwardError(f"policy {policy.ref} ({where}) runs two Scripts named {name!r} "
                                     f"({scripts[name].ref} and {loaded.ref})",
                                     hint="rename the client's Script so it does not shadow the baseline's")
            continue
        file = desired.script_file(loaded)
        if file is None:  # only a DesiredState the loader did not build lacks its files
            raise FleetwardError(f"the text of Script {loaded.ref} ({loaded.resource.spec.file}) is not loaded",
                                 hint="load the revision with the fleet loader")
        declared = loaded.resource.spec
        scripts[name] = BundledScript(name=name, ref=loaded.ref, shell=declared.shell, text=file.text,
                                      sha256=file.sha256, timeout_seconds=declared.timeout_seconds,
                                      os=list(declared.os), parameters=list(declared.parameters))
    spec = effective.spec
    schedule = spec.schedule
    zone = schedule.timezone
    client = effective.override.scope if effective.override is not None else policy.scope
    if schedule.cron is not None and zone is None and client is not None:
        zone = (zones if zones is not None else client_zones(desired)).get(client, "UTC")
    content = BundledPolicy(id=policy.ref, version="-", mode=spec.mode,
                            every_seconds=every_seconds(schedule.interval) if schedule.interval else None,
                            cron=schedule.cron, timezone=zone, triggers=spec.triggers, checks=checks,
                            scripts={script.name: script.ref for script in scripts.values()})
    digest = hashlib.sha256(canonical_json({
        "policy": content.model_dump(mode="json", by_alias=True, exclude={"version"}),
        "scripts": {script.ref: script.sha256 for script in scripts.values()},
    }).encode()).hexdigest()[:16]
    return PolicyEntry(content.model_copy(update={"version": digest}), tuple(scripts.values()))


def client_zones(desired: DesiredState) -> dict[str, str]:
    """Each client's timezone by name."""
    return {loaded.name: loaded.resource.spec.timezone for loaded in desired.of_kind(Client).values()}


def reads_client_zone(policy: BundledPolicy) -> bool:
    """An MSP-wide cron policy without a zone: each agent reads it in its own client's zone."""
    return policy.cron is not None and policy.timezone is None


def assigned_policies(desired: DesiredState, agents: Sequence[ObservedAgent],
                      variants: Sequence[EffectivePolicy] | None = None) -> dict[VariantKey, frozenset[AgentId]]:
    """Policy variant -> the agents (of ``agents``) it targets, overrides and exclusions applied.

    ``variants`` are ``effective_policies(desired)`` when the caller has them already.
    """
    reach = PolicyTargeting(Targeting(desired, agents))
    found: dict[VariantKey, frozenset[AgentId]] = {}
    for effective in variants if variants is not None else effective_policies(desired):
        targets = reach.targets(effective)
        if targets:
            found[effective.key] = targets
    return found


def observed_agent(agent_id: str, client: str, labels: Mapping[str, str]) -> ObservedAgent:
    """The little of an agent targeting reads (labels carry the reported hostname)."""
    return ObservedAgent(agent_id=AgentId(agent_id), client=client, hostname=labels.get("hostname", ""),
                         labels=labels)


class PolicyBundles:
    """Per applied revision: every policy variant's entry (built once) and each agent's assigned variants."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._entries: dict[VariantKey, PolicyEntry] | None = None
        self._variants: list[EffectivePolicy] = []
        self._assigned: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[VariantKey, ...]] = {}
        self._zones: dict[str, str] | None = None

    def entries(self, desired: DesiredState) -> Mapping[VariantKey, PolicyEntry]:
        """Every deliverable policy variant of ``desired``, by (policy id, override's client or None)."""
        with self._lock:
            self._switch(desired)
            if self._entries is None:
                self._variants = effective_policies(desired)
                self._entries = self._build(desired, self._variants)
            return self._entries

    def _switch(self, desired: DesiredState) -> None:
        if desired.revision != self._revision:
            self._revision, self._entries, self._assigned, self._zones = desired.revision, None, {}, None

    def _zone(self, desired: DesiredState, client: str) -> str:
        with self._lock:
            self._switch(desired)
            if self._zones is None:
                self._zones = client_zones(desired)
            return self._zones.get(client, "UTC")

    def _build(self, desired: DesiredState, variants: Sequence[EffectivePolicy]) -> dict[VariantKey, PolicyEntry]:
        built: dict[VariantKey, PolicyEntry] = {}
        if self._zones is None:  # called under the lock, for the current revision
            self._zones = client_zones(desired)
        for effective in variants:
            try:
                built[effective.key] = policy_entry(desired, effective, self._zones)
            except FleetwardError as problem:
                log.warning("policy %s is not delivered to agents: %s", effective.ref, problem)
        return built

    def variants(self, desired: DesiredState, agent_id: str, client: str,
                 labels: Mapping[str, str]) -> tuple[VariantKey, ...]:
        """The deliverable policy variants that target this agent, sorted (at most one per policy id)."""
        key = (agent_id, tuple(sorted(labels.items())))
        entries = self.entries(desired)
        with self._lock:
            found = self._assigned.get(key)
            variants = self._variants if desired.revision == self._revision else None
        if found is None:
            targets = assigned_policies(desired, [observed_agent(agent_id, client, labels)], variants)
            found = tuple(sorted((variant for variant in targets if variant in entries),
                                 key=lambda variant: (variant[0], variant[1] or "")))
            with self._lock:
                if desired.revision == self._revision:
                    self._assigned[key] = found
        return found

    def assigned(self, desired: DesiredState, agent_id: str, client: str, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Ids of the deliverable policies that target this agent, sorted."""
        return tuple(ref for ref, _client in self.variants(desired, agent_id, client, labels))

    def version(self, desired: DesiredState | None, agent_id: str, client: str, labels: Mapping[str, str],
                runs: Sequence[PolicyRunRequest] = ()) -> str:
        """The check-in's ``policies_version``: '' when nothing applies and nothing is requested."""
        if desired is None:
            return ""
        variants = self.variants(desired, agent_id, client, labels)
        if not variants:
            return ""
        entries = self.entries(desired)
        refs = {ref for ref, _client in variants}
        versions = [(variant[0], entries[variant].policy.version, self._zone(desired, client))
                    if reads_client_zone(entries[variant].policy) else (variant[0], entries[variant].policy.version)
                    for variant in variants]
        return _digest(versions, [run for run in runs if run.policy_id in refs])

    def _for_client(self, desired: DesiredState, policy: BundledPolicy, client: str) -> BundledPolicy:
        """``policy`` as an agent of ``client`` runs it: an MSP-wide cron read in the client's zone."""
        if not reads_client_zone(policy):
            return policy
        return policy.model_copy(update={"timezone": self._zone(desired, client)})

    def bundle(self, desired: DesiredState | None, agent_id: str, client: str, labels: Mapping[str, str],
               runs: Sequence[PolicyRunRequest] = ()) -> PolicyBundle:
        if desired is None:
            return PolicyBundle(agent_id=agent_id, revision="", version="")
        variants = self.variants(desired, agent_id, client, labels)
        entries = self.entries(desired)
        scripts: dict[str, BundledScript] = {}
        for variant in variants:
            for script in entries[variant].scripts:
                scripts[script.ref] = script
        refs = {ref for ref, _client in variants}
        wanted = [run for run in runs if run.policy_id in refs]
        return PolicyBundle(
            agent_id=agent_id, revision=desired.revision,
            version=self.version(desired, agent_id, client, labels, runs),
            policies=[self._for_client(desired, entries[variant].policy, client) for variant in variants],
            scripts=[scripts[ref] for ref in sorted(scripts)], run_requests=wanted)


def _digest(versions: Sequence[tuple[str, ...]], runs: Sequence[PolicyRunRequest]) -> str:
    content = {"policies": versions, "runs": sorted((run.id, run.policy_id) for run in runs)}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()[:16]
