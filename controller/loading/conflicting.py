"""Two policies that set the same thing differently on a device both may reach: a conflict.

Each check that sets something has an identity (:meth:`schemas.checks.CheckBase.identity`: this
service, this file, this registry value...). Two checks with one identity that cannot both hold
(:meth:`~schemas.checks.CheckBase.disagreement`), in policy variants that may reach a common device
(:mod:`~controller.loading.reaching`), are reported once, naming the other: in the client's file
when one of them is a client's (the exception to an MSP-wide rule), else at the later place. The
revision is rejected, so agents never flip a setting back and forth between two policies. Checks
are compared as each device would receive them: baselines with their clients' overrides applied,
templates rendered. Two variants of one policy never meet (each client
gets one), so an override that changes its baseline's setting is no conflict: that is its purpose.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from controller.desired import DesiredState, ResourceKey, Scope
from controller.loading.locating import Loc
from controller.loading.problems import Problem
from controller.loading.reaching import Reach, may_overlap, reach
from controller.planning.inheriting import EffectivePolicy, VariantKey, effective_policies
from schemas.checks import Check
from schemas.policies import Policy

if TYPE_CHECKING:
    from controller.loading.checking import Candidate

Claim = tuple[EffectivePolicy, Check]


def conflict_problems(candidates: Sequence[Candidate], desired: DesiredState) -> list[Problem]:
    """A problem for every pair of checks that set one thing differently where both may apply."""
    documents = {(c.scope, c.resource.name): c for c in candidates if isinstance(c.resource, Policy)}
    claims: dict[tuple[str, ...], list[Claim]] = {}
    for effective in effective_policies(desired):
        for check in effective.checks:
            identity = check.identity()
            if identity is not None:
                claims.setdefault(identity, []).append((effective, check))
    reaches: dict[VariantKey, Reach] = {}
    found: set[Problem] = set()
    for identity, claimed in claims.items():
        for first, one, second, other in _pairs(claimed):
            if first is not second and first.ref == second.ref:
                continue  # variants of one policy reach different clients
            if one.disagreement(other) is None:
                continue  # most pairs agree: cheaper to ask first than to work out where they reach
            if first is not second:
                if first.key not in reaches:
                    reaches[first.key] = reach(desired, first)
                if second.key not in reaches:
                    reaches[second.key] = reach(desired, second)
                if not may_overlap(reaches[first.key], reaches[second.key]):
                    continue
            problem = _reported(identity, (first, one), (second, other), documents)
            if problem is not None:
                found.add(problem)
    return sorted(found)


def _pairs(claimed: Sequence[Claim]) -> Iterator[tuple[EffectivePolicy, Check, EffectivePolicy, Check]]:
    """Every pair of claims whose devices may meet by scope: within one client, and MSP-wide with any.

    Two clients' variants never share a device, so a fleet of many clients setting one service
    costs pairs per client, not pairs across the fleet.
    """
    by_client: dict[Scope, list[Claim]] = {}
    for claim in claimed:
        effective = claim[0]
        client = effective.override.scope if effective.override is not None else effective.policy.scope
        by_client.setdefault(client, []).append(claim)
    msp_wide = by_client.get(None, [])
    for client, claims in by_client.items():
        for index, (first, one) in enumerate(claims):
            for second, other in claims[index + 1:]:
                yield first, one, second, other
            if client is not None:
                for second, other in msp_wide:
                    yield first, one, second, other


def _reported(identity: tuple[str, ...], first: Claim, second: Claim,
              documents: dict[ResourceKey, Candidate]) -> Problem | None:
    placed = [(_written(claim, documents), claim) for claim in (first, second)]
    if any(where is None for where, _claim in placed):
        return None
    # Reported in a client's file rather than the MSP-wide one (the client's is the exception to
    # the baseline), else at the later place.
    (there, (far, theirs)), (here, (near, mine)) = sorted(
        ((where, claim) for where, claim in placed if where is not None),
        key=lambda item: (item[0][0].scope is not None, item[0][2]))
    candidate, loc, _ = here
    why = mine.disagreement(theirs)
    what = f"{identity[0]} {' '.join(identity[1:])}".strip()
    return candidate.problem(
        f"check '{mine.name}' of Policy '{near.ref}' and check '{theirs.name}' of Policy '{far.ref}' at "
        f"{there[2].location} both set {what}, differently ({why}), and both may apply to the same devices; "
        "keep one, or take the devices out of one with spec.exclude", *loc)


def _written(claim: Claim, documents: dict[ResourceKey, Candidate]) -> tuple[Candidate, Loc, Problem] | None:
    """Where a check of a variant was written: (document, loc, that place as a Problem for sorting)."""
    effective, check = claim
    override, base = effective.override, effective.policy
    where: tuple[ResourceKey, Loc]
    if override is not None and check.name in effective.own_checks:
        names = [own.name for own in override.resource.spec.checks]
        where = (override.key, ("spec", "checks", names.index(check.name)))
    elif base.resource.spec.template is not None:
        where = ((override.key, ("spec", "params")) if override is not None and override.resource.spec.params
                 else (base.key, ("spec", "template")))
    else:
        names = [own.name for own in base.resource.spec.checks]
        where = (base.key, ("spec", "checks", names.index(check.name)) if check.name in names else ("spec",))
    candidate = documents.get(where[0])
    if candidate is None:
        return None
    return candidate, where[1], candidate.problem("", *where[1])
