"""Every Policy's checks, as the planner will see them: templates expanded, scripts' params checked.

Runs among the cross-resource checks (:mod:`~controller.loading.checking`), after references
are known: a template resolves like any reference (the Policy's own client first, then
MSP-wide). A template with its own problems is reported once, at the template; Policies using
it are not expanded. The checks of each valid Policy end up in
:attr:`DesiredState.policy_checks <controller.desired.DesiredState.policy_checks>`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from controller.desired import DesiredState, ResourceKey
from controller.loading.locating import Loc
from controller.loading.parameters import parameter_problems
from controller.loading.problems import Problem
from controller.loading.templating import expand, template_problems
from schemas.checks import Check, ScriptCheck
from schemas.policies import Policy
from schemas.resources import Resource
from schemas.scripts import Script
from schemas.templates import PolicyTemplate

if TYPE_CHECKING:
    from controller.loading.checking import Candidate

Missing = Callable[[type[Resource], str, "Candidate"], "str | None"]
"""Why a name does not resolve from a candidate (None when it does or might): checking's rule."""


def script_problems(checks: Sequence[Check], candidate: Candidate, desired: DesiredState,
                   missing: Missing, templated: str | None) -> list[Problem]:
    """Scripts the checks run, and the params given to them, against the Scripts' declarations."""
    found: list[Problem] = []
    for index, check in enumerate(checks):
        runs: list[tuple[str, dict[str, object], Loc]] = []
        if isinstance(check, ScriptCheck):
            runs.append((check.script, dict(check.params), ("spec", "checks", index)))
        if check.remediation is not None:
            runs.append((check.remediation.script, dict(check.remediation.params),
                         ("spec", "checks", index, "remediation")))
        for name, params, loc in runs:
            if templated is not None:  # inline references are checked with the others
                why = missing(Script, name, candidate)
                if why is not None:
                    found.append(candidate.problem(f"check '{check.name}' of template '{templated}': {why}",
                                                   "spec", "template"))
                    continue
            script = desired.resolve(Script, candidate.scope, name)
            if script is None:
                continue
            for param, message in parameter_problems(script.resource.spec.parameters, params,
                                                     f"Script '{name}'"):
                if templated is not None:
                    found.append(candidate.problem(f"check '{check.name}' of template '{templated}': {message}",
                                                   "spec", "template"))
                else:
                    where = (*loc, "params", param) if param is not None else (*loc, "script")
                    undeclared = param is not None and all(p.name != param for p in script.resource.spec.parameters)
                    found.append(candidate.problem(message, *where, at_key=undeclared))
    return found


def expand_policies(candidates: Sequence[Candidate], desired: DesiredState,
                    missing: Missing) -> tuple[dict[ResourceKey, tuple[Check, ...]], list[Problem]]:
    """The checks of every Policy that has no problem with them, and the problems found."""
    found: list[Problem] = []
    templates: dict[tuple[str | None, str], Candidate] = {}
    broken: set[tuple[str | None, str]] = set()
    for candidate in candidates:
        if isinstance(candidate.resource, PolicyTemplate):
            key = (candidate.scope, candidate.resource.name)
            templates.setdefault(key, candidate)
            for loc, message in template_problems(candidate.resource):
                found.append(candidate.problem(message, *loc))
                broken.add(key)
    checks_of: dict[ResourceKey, tuple[Check, ...]] = {}
    for candidate in candidates:
        policy = candidate.resource
        if not isinstance(policy, Policy):
            continue
        if policy.spec.template is None:
            found += script_problems(policy.spec.checks, candidate, desired, missing, None)
            checks_of[(candidate.scope, policy.name)] = tuple(policy.spec.checks)
            continue
        loaded = desired.resolve(PolicyTemplate, candidate.scope, policy.spec.template)
        if loaded is None or loaded.key in broken or loaded.key not in templates:
            continue  # the reference or the template itself is reported already
        document = templates[loaded.key].document
        checks, problems = expand(loaded.resource, document, dict(policy.spec.params), policy.name)
        found += [candidate.problem(message, *loc) for loc, message in problems]
        if checks is None:
            continue
        found += script_problems(checks, candidate, desired, missing, loaded.resource.name)
        checks_of[(candidate.scope, policy.name)] = tuple(checks)
    return checks_of, found
