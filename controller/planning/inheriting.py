"""Policy inheritance: what each set of devices receives, baselines and client overrides resolved.

An MSP-wide Policy is a *baseline*. A Policy in ``clients/<client>/`` with ``spec.overrides``
changes that baseline for the client's devices: the fields it sets replace the baseline's
(``params`` key by key, ``checks`` by name), the rest is inherited. So one Policy yields one
:class:`EffectivePolicy` per variant: the baseline as written, for every client without an
override, and the baseline as each override changes it, for that client's devices only. Every
variant keeps the baseline's id, so agents, assignments and compliance see one policy, whose
version differs per client.

``exclude`` takes devices out of a policy's targets (a baseline's everywhere, an override's for
its client); excluded devices are simply not targets. Pure functions of the desired state and
the agents, shared by the loader (conflicts) and by assignment and bundling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.desired import DesiredState, Loaded, ResourceKey, Scope
from controller.planning.targeting import Targeting
from schemas.checks import Check
from schemas.ids import AgentId
from schemas.policies import Policy, PolicySpec

NEVER_INHERITED = frozenset({"overrides", "exclude", "description", "targets", "template", "params", "checks"})
"""Fields an override does not take over wholesale: targets and template stay the baseline's,
params and checks merge, exclusions add up, and the description is the override's own."""

VariantKey = tuple[str, Scope]
"""(policy id, client of the override or None for the baseline as written)."""


def inherit(baseline: PolicySpec, override: PolicySpec) -> PolicySpec:
    """The baseline's spec with every field the override sets, params merged key by key.

    Checks merge by name (:func:`merge_checks`); the loader does that, as it renders templates.
    """
    update: dict[str, object] = {name: getattr(override, name)
                                 for name in override.model_fields_set - NEVER_INHERITED}
    update["params"] = {**baseline.params, **override.params}
    return baseline.model_copy(update=update)


def merge_checks(inherited: Sequence[Check], own: Sequence[Check]) -> tuple[Check, ...]:
    """The inherited checks with each of ``own`` replacing the one of its name, new names appended."""
    mine = {check.name: check for check in own}
    merged = [mine.pop(check.name, check) for check in inherited]
    return (*merged, *(check for check in own if check.name in mine))


@dataclass(frozen=True)
class EffectivePolicy:
    """A Policy as one set of devices receives it."""

    policy: Loaded[Policy]
    """The Policy whose id agents and compliance see: the baseline when this is an override."""
    override: Loaded[Policy] | None
    spec: PolicySpec
    """The baseline's spec with the override's fields (mode, schedule, params...)."""
    checks: tuple[Check, ...]
    overridden: frozenset[str] = frozenset()
    """For a baseline as written: the clients whose override replaces it on their devices."""
    own_checks: frozenset[str] = frozenset()
    """Names of the checks the override wrote itself (their Scripts resolve from its client)."""

    @property
    def ref(self) -> str:
        return self.policy.ref

    @property
    def key(self) -> VariantKey:
        return (self.policy.ref, self.override.scope if self.override is not None else None)

    def script_scope(self, check: Check) -> Scope:
        """Where the Scripts of ``check`` resolve from: the override's client for its own checks."""
        if self.override is not None and check.name in self.own_checks:
            return self.override.scope
        return self.policy.scope


def baseline_of(desired: DesiredState, override: Loaded[Policy]) -> Loaded[Policy] | None:
    """The MSP-wide Policy ``override`` names (overrides never resolve within a client)."""
    name = override.resource.spec.overrides
    return desired.of_kind(Policy).get((None, name)) if name is not None and override.scope is not None else None


def effective_policies(desired: DesiredState) -> list[EffectivePolicy]:
    """Every variant of every Policy, ordered by (id, client); overrides whose baseline is gone are skipped."""
    policies = desired.of_kind(Policy)
    overrides: dict[ResourceKey, list[Loaded[Policy]]] = {}
    for loaded in policies.values():
        if loaded.resource.spec.overrides is not None:
            baseline = baseline_of(desired, loaded)
            if baseline is not None:
                overrides.setdefault(baseline.key, []).append(loaded)
    found: list[EffectivePolicy] = []
    for loaded in policies.values():
        if loaded.resource.spec.overrides is not None:
            continue
        own = overrides.get(loaded.key, [])
        found.append(EffectivePolicy(loaded, None, loaded.resource.spec, desired.checks_of(loaded),
                                     overridden=frozenset(str(o.scope) for o in own)))
        for override in own:
            spec = override.resource.spec
            found.append(EffectivePolicy(
                loaded, override, inherit(loaded.resource.spec, spec),
                # The loader renders the baseline with the merged params and merges the checks.
                desired.policy_checks.get(override.key, merge_checks(desired.checks_of(loaded), spec.checks)),
                own_checks=frozenset(check.name for check in spec.checks)))
    return sorted(found, key=lambda effective: (effective.ref, effective.key[1] or ""))


class PolicyTargeting:
    """The devices each policy variant applies to, for one set of agents.

    Its baseline's targets (worked out once per baseline), within the override's client or outside
    the overridden clients, minus every exclusion.
    """

    def __init__(self, targeting: Targeting) -> None:
        self._targeting = targeting
        self._bases: dict[ResourceKey, frozenset[AgentId]] = {}

    def targets(self, effective: EffectivePolicy) -> frozenset[AgentId]:
        base, targeting = effective.policy, self._targeting
        chosen = self._bases.get(base.key)
        if chosen is None:
            targets = base.resource.spec.targets
            # Only an override has no targets, and it is never the policy of a variant.
            chosen = targeting.targets_of(base.scope, targets) if targets is not None else frozenset()
            self._bases[base.key] = chosen
        if effective.override is not None:
            override = effective.override
            assert override.scope is not None  # the loader keeps overrides in clients' folders
            chosen = chosen & targeting.client_agents(override.scope)
            chosen = chosen - targeting.excluded(override.scope, override.resource.spec.exclude)
        elif effective.overridden:
            chosen = frozenset(agent for agent in chosen if targeting.client_of(agent) not in effective.overridden)
        return chosen - targeting.excluded(base.scope, base.resource.spec.exclude)


def policy_targets(targeting: Targeting, effective: EffectivePolicy) -> frozenset[AgentId]:
    """The devices ``effective`` applies to (one variant; :class:`PolicyTargeting` for many)."""
    return PolicyTargeting(targeting).targets(effective)
