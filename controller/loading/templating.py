"""PolicyTemplates checked on their own, and Policies' ``template`` + ``params`` expanded into checks.

A template is checked where it is written: every template string must parse in the allowed
language (:mod:`~controller.loading.rendering`) and use only declared parameters; when no
parameter is required it is also rendered with its defaults and validated as checks, so a
broken template is reported at its own line even before a Policy uses it.

A Policy's params are judged against the template's parameters (problems at the params
entry); then the template is rendered with them and the result validated as the Policy's
checks. A problem that comes from rendering names the template file and line and the Policy,
and points at the one param that fed the failing value when there is exactly one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, ValidationError

from controller.desired import SourceLocation
from controller.loading.locating import KEY_MARK, Loc, node_position
from controller.loading.messages import field_label, reword
from controller.loading.parameters import parameter_problems, with_defaults
from controller.loading.parsing import Document
from controller.loading.rendering import Expression, RenderError, expressions, render
from schemas.checks import Check
from schemas.resources import SpecModel
from schemas.templates import MAX_TEMPLATE_CHECKS, PolicyTemplate

LocatedMessage = tuple[Loc, str]
"""A message and the node (path from the document root) it is about."""


class _Rendered(SpecModel):
    checks: list[Check] = Field(max_length=MAX_TEMPLATE_CHECKS)


def _parsed(template: PolicyTemplate) -> tuple[list[Expression], list[LocatedMessage]]:
    found: list[Expression] = []
    for index, check in enumerate(template.spec.checks):
        try:
            found += expressions(check, (index,))
        except RenderError as error:
            return found, [(("spec", "checks", *error.loc), error.message)]
    return found, []


def _written(data: Any, loc: Loc) -> Loc:
    """``loc`` without the parts that are not in ``data`` (pydantic adds union tags)."""
    kept: list[str | int] = []
    for part in loc:
        present = (part in data if isinstance(data, dict) else
                   isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))
        if present:
            data = data[part]
        elif part != loc[-1]:
            continue
        kept.append(part)
    return tuple(kept)


def _dotted(loc: Loc) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _validate(checks: Any) -> tuple[list[Check] | None, list[tuple[Loc, str]]]:
    """The rendered checks as Check models, or (loc in the checks, message) for each error."""
    try:
        return list(_Rendered.model_validate({"checks": checks}).checks), []
    except ValidationError as error:
        messages: list[tuple[Loc, str]] = []
        for item in error.errors(include_url=False):
            loc = _written({"checks": checks}, tuple(item["loc"]))
            item["loc"] = loc
            message = reword(item, _Rendered, None)
            subject = f"'{field_label(loc)}'"
            message = (_dotted(loc) + message[len(subject):] if message.startswith(subject)
                       else f"{_dotted(loc)}: {message}")
            messages.append((loc[1:], message))
        return None, messages


def _unique_names(checks: Sequence[Check]) -> list[tuple[Loc, str]]:
    seen: set[str] = set()
    found: list[tuple[Loc, str]] = []
    for index, check in enumerate(checks):
        if check.name in seen:
            found.append(((index, "name"), f"two checks are named '{check.name}'; check names must be "
                                           "unique within a policy"))
        seen.add(check.name)
    return found


def template_problems(template: PolicyTemplate) -> list[LocatedMessage]:
    """What is wrong with a template on its own, each at the node it is about."""
    parsed, found = _parsed(template)
    if found:
        return found
    declared = {parameter.name for parameter in template.spec.parameters}
    for expression in parsed:
        for name in sorted(expression.names - declared):
            known = ", ".join(sorted(declared)) or "none"
            found.append((("spec", "checks", *expression.loc),
                          f"params.{name} is not a parameter of this template (it declares {known}); "
                          "declare it under spec.parameters"))
    if found or any(parameter.required for parameter in template.spec.parameters):
        return found
    rendered = render(list(template.spec.checks), with_defaults(template.spec.parameters, {}))
    checks, invalid = _validate(rendered)
    invalid += _unique_names(checks or [])
    return [(("spec", "checks", *loc), f"with the default parameters: {message}") for loc, message in invalid]


def _source(document: Document, loc: Loc) -> SourceLocation:
    line, column = node_position(document.tree, ("spec", "checks", *loc))
    return SourceLocation(document.path, line, column)


def _fed_by(parsed: Sequence[Expression], loc: Loc, given: set[str]) -> str | None:
    """The one given param that the value at ``loc`` (or the nearest templated value above it) used."""
    for depth in range(len(loc), 0, -1):
        for expression in parsed:
            if expression.loc == loc[:depth]:
                used = expression.names & given
                return next(iter(used)) if len(used) == 1 else None
    return None


def expand(template: PolicyTemplate, template_document: Document,
           params: dict[str, Any], policy_name: str) -> tuple[list[Check] | None, list[LocatedMessage]]:
    """The checks ``template`` renders to with ``params``, or problems located in the Policy."""
    owner = f"PolicyTemplate '{template.name}'"
    problems: list[LocatedMessage] = []
    for name, message in parameter_problems(template.spec.parameters, params, owner):
        if name is None:
            target: Loc = ("spec", "params") if params else ("spec", "template", KEY_MARK)
        elif any(p.name == name for p in template.spec.parameters):
            target = ("spec", "params", name)
        else:
            target = ("spec", "params", name, KEY_MARK)
        problems.append((target, message))
    if problems:
        return None, problems
    parsed, broken = _parsed(template)
    if broken:  # reported at the template itself
        return None, []
    context = f"template '{template.name}' rendered for Policy '{policy_name}'"
    try:
        rendered = render(list(template.spec.checks), with_defaults(template.spec.parameters, params))
    except RenderError as error:
        where = _source(template_document, error.loc)
        return None, [(("spec", "template"), f"{context}: {error.message} (at {where})")]
    checks, invalid = _validate(rendered)
    invalid += _unique_names(checks or [])
    for loc, message in invalid:
        param = _fed_by(parsed, loc, set(params))
        at: Loc = ("spec", "params", param) if param is not None else ("spec", "template")
        problems.append((at, f"{context} gives an invalid check: {message} (template at "
                                 f"{_source(template_document, loc)})"))
    return (checks if not problems else None), problems
