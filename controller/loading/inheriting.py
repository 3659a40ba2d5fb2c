"""Client overrides of MSP-wide baselines: what they may name and set, and the checks they end up with.

Runs among the cross-resource checks (:mod:`~controller.loading.checking`), after the Policies'
own checks are expanded. An override lives in a client's folder and names an MSP-wide Policy
(``spec.overrides``); one override per baseline and client. Its ``params`` change the baseline's
template parameters (the template is rendered again with the merged params, and checked like the
baseline's), its ``checks`` replace the baseline's checks of the same name and add new ones. The
merged checks become the override's entry in ``DesiredState.policy_checks``; the rest of the merge
(mode, schedule...) is :func:`controller.planning.inheriting.inherit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from controller.desired import DesiredState, Loaded, ResourceKey
from controller.loading.expanding import Missing, script_problems
from controller.loading.locating import Loc
from controller.loading.problems import Problem
from controller.loading.templating import expand
from controller.planning.inheriting import merge_checks
from schemas.checks import Check
from schemas.policies import Policy
from schemas.templates import PolicyTemplate

if TYPE_CHECKING:
    from controller.loading.checking import Candidate


def inherit_policies(candidates: Sequence[Candidate], desired: DesiredState,
                     checks_of: dict[ResourceKey, tuple[Check, ...]],
                     missing: Missing) -> tuple[dict[ResourceKey, tuple[Check, ...]], list[Problem]]:
    """``checks_of`` with every valid override's merged checks, and the problems of the overrides."""
    merged = dict(checks_of)
    found: list[Problem] = []
    documents = {(c.scope, c.resource.name): c for c in candidates if isinstance(c.resource, PolicyTemplate)}
    seen: dict[ResourceKey, Candidate] = {}
    for candidate in candidates:
        override = candidate.resource
        if not isinstance(override, Policy) or override.spec.overrides is None:
            continue
        name = override.spec.overrides
        if candidate.scope is None:
            found.append(candidate.problem(
                "an MSP-wide Policy is itself a baseline and overrides nothing; an override belongs in a "
                "client's folder (clients/<client>/) and changes the baseline for that client's devices",
                "spec", "overrides"))
            merged.pop((None, override.name), None)
            continue
        baseline = desired.of_kind(Policy).get((None, name))
        if baseline is None:
            why = missing(Policy, name, replace(candidate, scope=None))
            if why is not None:
                found.append(candidate.problem(f"{why}; an override names the MSP-wide baseline it changes",
                                               "spec", "overrides"))
            merged.pop(candidate_key(candidate), None)
            continue
        if baseline.resource.spec.overrides is not None:
            continue  # the baseline is a misplaced override, reported above
        first = seen.setdefault((candidate.scope, name), candidate)
        if first is not candidate:
            found.append(candidate.problem(
                f"Policy '{name}' is overridden for {candidate.scope} already at {first.location}; "
                "write one override per baseline and client", "spec", "overrides"))
            merged.pop(candidate_key(candidate), None)
            continue
        inherited, problems = _inherited_checks(candidate, baseline, desired, checks_of, documents, missing)
        found += problems
        if inherited is None:
            merged.pop(candidate_key(candidate), None)
            continue
        own = override.spec.checks
        kinds = {check.name: check.type for check in inherited}
        for index, check in enumerate(own):
            if check.name in kinds and kinds[check.name] != check.type:
                found.append(candidate.problem(
                    f"check '{check.name}' is a {kinds[check.name]} check in the baseline '{name}'; an override "
                    f"changes a check's settings and keeps its type (give a {check.type} check a new name)",
                    "spec", "checks", index, "name"))
        merged[candidate_key(candidate)] = merge_checks(inherited, own)
    return merged, found


def candidate_key(candidate: Candidate) -> ResourceKey:
    return (candidate.scope, candidate.resource.name)


def _inherited_checks(candidate: Candidate, baseline: Loaded[Policy], desired: DesiredState,
                      checks_of: dict[ResourceKey, tuple[Check, ...]],
                      documents: dict[ResourceKey, Candidate],
                      missing: Missing) -> tuple[tuple[Check, ...] | None, list[Problem]]:
    """The baseline's checks as this client gets them (its template rendered with the merged params)."""
    override = candidate.resource
    assert isinstance(override, Policy)
    base = baseline.resource.spec
    if base.template is None:
        if override.spec.params:
            return None, [candidate.problem(
                f"the baseline '{baseline.name}' has inline checks, not a template, so it has no params to change; "
                "replace a check by writing one of the same name under checks", "spec", "params")]
        return checks_of.get(baseline.key, tuple(base.checks)), []
    if baseline.key not in checks_of:
        return None, []  # the baseline's template or params have problems of their own
    if not override.spec.params:
        return checks_of[baseline.key], []
    template = desired.resolve(PolicyTemplate, baseline.scope, base.template)
    if template is None or template.key not in documents:
        return None, []
    params = {**base.params, **override.spec.params}
    checks, problems = expand(template.resource, documents[template.key].document, params, override.name)
    found = [candidate.problem(message, *_in_override(loc)) for loc, message in problems]
    if checks is None:
        return None, found
    # The template's Scripts resolve from the baseline's scope; problems are the override's to fix.
    found += script_problems(checks, replace(candidate, scope=baseline.scope), desired, missing,
                             template.resource.name)
    return (tuple(checks) if not found else None), found


def _in_override(loc: Loc) -> Loc:
    """An override has no ``template``: point at ``overrides`` instead."""
    return ("spec", "overrides", *loc[2:]) if loc[:2] == ("spec", "template") else loc
