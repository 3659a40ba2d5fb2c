"""Values given for declared parameters (a Script's or a PolicyTemplate's): missing, unknown, wrong.

One set of rules for both, so ``params`` under a check's script, its remediation, and a
Policy's template are judged alike: every required parameter given, no name that is not
declared, each value of the declared type and within its allowed values and bounds.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.scripts import ParameterBase


def parameter_problems(declared: Sequence[ParameterBase], given: Mapping[str, Any],
                       owner: str) -> list[tuple[str | None, str]]:
    """(param name, message) for each problem; the name is None for a missing required one.

    ``owner`` says whose parameters these are in messages (``Script 'disk-free'``).
    """
    by_name = {parameter.name: parameter for parameter in declared}
    found: list[tuple[str | None, str]] = []
    for name, value in given.items():
        parameter = by_name.get(name)
        if parameter is None:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = (f" (did you mean '{close[0]}'?)" if close else
                    f"; it declares {', '.join(sorted(by_name))}" if by_name else "; it declares none")
            found.append((name, f"{owner} has no parameter '{name}'{hint}"))
            continue
        wrong = parameter.problem(value)
        if wrong is not None:
            found.append((name, f"parameter {wrong} ({owner})"))
    missing = [p.name for p in declared if p.required and p.name not in given]
    if missing:
        listed = ", ".join(missing)
        found.append((None, f"{owner} needs the parameter{'s' if len(missing) > 1 else ''} {listed}; "
                            "add them under params"))
    return found


def with_defaults(declared: Sequence[ParameterBase], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared parameter's value: given, else its default, else None."""
    return {parameter.name: given.get(parameter.name, getattr(parameter, "default", None))
            for parameter in declared}
