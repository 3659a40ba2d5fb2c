"""Whether two policies could reach the same device, told from the revision alone.

The loader sees no devices, so a conflict between two policies is judged on what their targets
*could* contain: each policy variant's reach is a union of terms (a group's selector, a group's
device list, named devices), each with the label constraints it implies - its scope pins the
``client`` label, a baseline as written leaves out the clients that override it. Two terms are
disjoint only when provably so: a label required to hold values that do not meet (``os: linux``
against ``os: windows``, ``Exists`` against ``DoesNotExist``, another client), or two device
lists that share no name (names compare as written). A term the policy's ``exclude`` certainly
covers (the excluded group itself, excluded device names, a selector its labels imply) reaches
nothing. Anything else may overlap, so a conflict is reported rather than missed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.desired import DesiredState, ResourceKey, Scope
from controller.planning.inheriting import EffectivePolicy
from schemas.groups import DeviceGroup, LabelSelector
from schemas.policies import Exclusions


@dataclass(frozen=True)
class KeyConstraint:
    """What one label must be: one of ``allowed`` (None: anything), none of ``forbidden``, present or not."""

    allowed: frozenset[str] | None = None
    forbidden: frozenset[str] = frozenset()
    present: bool | None = None

    def meet(self, other: KeyConstraint) -> KeyConstraint | None:
        """Both at once, or None when no value satisfies both."""
        allowed = (other.allowed if self.allowed is None else
                   self.allowed if other.allowed is None else self.allowed & other.allowed)
        forbidden = self.forbidden | other.forbidden
        if self.present is not None and other.present is not None and self.present != other.present:
            return None
        present = self.present if self.present is not None else other.present
        if allowed is not None:
            allowed = allowed - forbidden
            if not allowed or present is False:
                return None
        return KeyConstraint(allowed, forbidden, True if allowed is not None else present)


Constraints = Mapping[str, KeyConstraint]


def _meet(first: Constraints, second: Constraints) -> dict[str, KeyConstraint] | None:
    met = dict(first)
    for key, constraint in second.items():
        joined = met[key].meet(constraint) if key in met else constraint.meet(KeyConstraint())
        if joined is None:
            return None
        met[key] = joined
    return met


def of_selector(selector: LabelSelector) -> dict[str, KeyConstraint] | None:
    """The constraints a selector puts on labels (None when it can match nothing)."""
    parts: list[tuple[str, KeyConstraint]] = [
        (key, KeyConstraint(frozenset({value}), present=True)) for key, value in selector.match_labels.items()]
    for requirement in selector.match_expressions:
        values = frozenset(requirement.values)
        parts.append((requirement.key, {
            "In": KeyConstraint(values, present=True), "NotIn": KeyConstraint(forbidden=values),
            "Exists": KeyConstraint(present=True), "DoesNotExist": KeyConstraint(present=False),
        }[requirement.operator]))
    found: dict[str, KeyConstraint] | None = {}
    for key, constraint in parts:
        if found is None:
            return None
        found = _meet(found, {key: constraint})
    return found


def _implies(constraint: KeyConstraint | None, requirement: KeyConstraint) -> bool:
    """Whether every label value meeting ``constraint`` meets ``requirement`` (one key)."""
    have = constraint or KeyConstraint()
    values = have.allowed - have.forbidden if have.allowed is not None else None
    if requirement.present is False and have.present is not False:
        return False
    if requirement.present is True and have.present is not True:
        return False
    if requirement.allowed is not None and (values is None or not values <= requirement.allowed):
        return False
    return not requirement.forbidden or (have.present is False or requirement.forbidden <= have.forbidden
                                         or (values is not None and not values & requirement.forbidden))


@dataclass(frozen=True)
class Term:
    """Devices matching ``constraints`` (a selector term) or, with ``devices``, those names among them."""

    constraints: Constraints
    devices: frozenset[str] | None = None
    group: ResourceKey | None = None


@dataclass(frozen=True)
class Exclusion:
    """A policy's ``exclude`` resolved: groups by key (with their terms), names, selectors."""

    groups: frozenset[ResourceKey] = frozenset()
    devices: frozenset[str] = frozenset()
    selectors: tuple[Constraints, ...] = ()
    group_terms: tuple[Term, ...] = field(default=())

    def covers(self, term: Term) -> bool:
        if term.group is not None and term.group in self.groups:
            return True
        named = self.devices.union(*(excluded.devices for excluded in self.group_terms if excluded.devices))
        if term.devices is not None and term.devices <= named:
            return True
        selectors = [*self.selectors,
                     *(excluded.constraints for excluded in self.group_terms if excluded.devices is None)]
        return term.devices is None and any(
            all(_implies(term.constraints.get(key), requirement) for key, requirement in selector.items())
            for selector in selectors)


def _client(scope: Scope) -> dict[str, KeyConstraint]:
    return {} if scope is None else {"client": KeyConstraint(frozenset({scope}), present=True)}


def _group_terms(desired: DesiredState, scope: Scope, name: str) -> list[Term]:
    group = desired.resolve(DeviceGroup, scope, name)
    if group is None:
        return []
    spec, pinned = group.resource.spec, _client(group.scope)
    terms: list[Term] = []
    if spec.selector is not None:
        constraints = of_selector(spec.selector)
        met = _meet(constraints, pinned) if constraints is not None else None
        if met is not None:
            terms.append(Term(met, group=group.key))
    if spec.devices:
        terms.append(Term(pinned, frozenset(spec.devices), group=group.key))
    return terms


def _exclusion(desired: DesiredState, scope: Scope, exclude: Exclusions | None) -> Exclusion:
    if exclude is None:
        return Exclusion()
    selector = of_selector(exclude.selector) if exclude.selector is not None else None
    groups = [desired.resolve(DeviceGroup, scope, name) for name in exclude.groups]
    return Exclusion(
        groups=frozenset(group.key for group in groups if group is not None),
        devices=frozenset(exclude.devices),
        selectors=(selector,) if selector is not None else (),
        group_terms=tuple(term for name in exclude.groups for term in _group_terms(desired, scope, name)))


@dataclass(frozen=True)
class Reach:
    """The terms whose union may hold every device a policy variant applies to, and what it excludes."""

    terms: tuple[Term, ...]
    exclusions: tuple[Exclusion, ...]

    def excludes(self, term: Term) -> bool:
        return any(exclusion.covers(term) for exclusion in self.exclusions)


def reach(desired: DesiredState, effective: EffectivePolicy) -> Reach:
    """Where ``effective`` may apply: its baseline's targets, bound to its clients, less what it excludes."""
    base = effective.policy
    targets = base.resource.spec.targets
    exclusions = [_exclusion(desired, base.scope, base.resource.spec.exclude)]
    if targets is None:
        return Reach((), ())
    bound: dict[str, KeyConstraint] = _client(base.scope)
    if effective.override is not None:
        bound = _client(effective.override.scope)
        exclusions.append(_exclusion(desired, effective.override.scope, effective.override.resource.spec.exclude))
    elif effective.overridden:
        bound = {"client": KeyConstraint(forbidden=frozenset(effective.overridden))}
    found = Reach((), tuple(exclusions))
    terms: list[Term] = []
    candidates: Iterable[Term] = [
        *(term for name in targets.all_groups for term in _group_terms(desired, base.scope, name)),
        *([Term({}, frozenset(targets.devices))] if targets.devices else [])]
    for term in candidates:
        met = _meet(term.constraints, bound)
        if met is None:
            continue
        bounded = Term(met, term.devices, term.group)
        if not found.excludes(bounded):
            terms.append(bounded)
    return Reach(tuple(terms), found.exclusions)


def may_overlap(first: Reach, second: Reach) -> bool:
    """Whether some device may be in both: a pair of terms that meet where neither side excludes."""
    for one in first.terms:
        for other in second.terms:
            met = _meet(one.constraints, other.constraints)
            if met is None:
                continue
            devices = (one.devices & other.devices if one.devices is not None and other.devices is not None
                       else one.devices if one.devices is not None else other.devices)
            if devices is not None and not devices:
                continue
            # Keep each side's group: a device in both is in either group, so either exclusion of it holds.
            for group in {one.group, other.group}:
                common = Term(met, devices, group)
                if first.excludes(common) or second.excludes(common):
                    break
            else:
                return True
    return False
