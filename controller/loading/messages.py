"""Pydantic validation errors reworded for the person editing the YAML.

Pydantic's messages speak Python ("Input should be a valid string"); a fleet author
needs to know what was wrong with what they wrote and how to fix it: quote a version
that YAML read as a number, the closest known field for a typo, the allowed values of
a choice. Anything without a better wording keeps pydantic's message (URLs excluded).
"""

from __future__ import annotations

import datetime
import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from controller.loading.locating import KEY_MARK
from schemas.secrets import SEALED_PATTERN

PATTERN_HINTS = {
    "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$":
        "must be lower-case letters, digits and '-', 1-63 characters, starting and ending with a "
        "letter or digit",
    "^[0-9a-f]{64}$": "must be 64 lower-case hex digits (the output of sha256sum)",
    "^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,63}$":
        "must start with a letter or digit and hold only letters, digits and . + ~ _ -, at most 64 "
        "characters",
    "^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$":
        "is not a valid label key: letters, digits, '-', '_' and '.', at most 63 characters, "
        "starting and ending with a letter or digit, optionally after a 'domain/' prefix",
    "^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$":
        "is not a valid label value: letters, digits, '-', '_' and '.', starting and ending with a "
        "letter or digit",
}
"""Hints for the patterns in ``schemas``; a pattern missing here is shown as the regex."""

_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "model_type": "a mapping", "dict_type": "a mapping", "model_attributes_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list",
}


def describe(value: Any, written: str | None = None) -> str:
    """A short description of a YAML value (as ``written``, when known), at most ~70 characters."""
    if isinstance(value, bool):
        return f"the boolean {(written or str(value).lower())[:60]}"
    if isinstance(value, int | float):
        return f"the number {(written or str(value))[:60]}"
    if isinstance(value, datetime.date):
        return f"the date {(written or value.isoformat())[:60]}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(str(value)[:60])


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [inner for arg in typing.get_args(annotation) for inner in _unwrap(arg)]
    return [annotation]


def model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` (for "did you mean")."""
    current: list[Any] = [model]
    for part in loc:
        following: list[Any] = []
        for candidate in current:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                for name, info in candidate.model_fields.items():
                    if part in (name, info.alias):
                        following.extend(_unwrap(info.annotation))
            else:
                origin = typing.get_origin(candidate)
                args = typing.get_args(candidate)
                if origin in (list, tuple, Sequence) and args and isinstance(part, int):
                    following.extend(_unwrap(args[0]))
                elif origin is dict and len(args) == 2:
                    following.extend(_unwrap(args[1]))
        current = following or current  # a union tag in loc names no field: stay put
    for candidate in current:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def field_names(model: type[BaseModel] | None) -> list[str]:
    """The names a model's fields are written with in YAML (their aliases)."""
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def field_label(loc: Sequence[int | str]) -> str:
    """``groups[0]`` for (..., 'groups', 0): the last field name and the indexes after it."""
    indexes = ""
    for part in reversed(loc):
        if isinstance(part, int):
            indexes = f"[{part}]{indexes}"
        else:
            return f"{part}{indexes}"
    return f"document{indexes}"


def _quote_hint(value: Any, written: str | None) -> str:
    scalar = isinstance(value, int | float | datetime.date) and not isinstance(value, bool)
    if (scalar or isinstance(value, bool)) and written and len(written) <= 60:
        return f": quote it (\"{written}\")"
    return ""


def reword(error: ErrorDetails, model: type[BaseModel], written: str | None) -> str:
    """A message for one pydantic error; ``written`` is the scalar as typed, when known."""
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if loc and loc[-1] == KEY_MARK:
        subject = f"key {str(loc[-2])[:60]!r}" if len(loc) > 1 else "key"
        shown = ""  # the subject already shows the key
    else:
        subject = f"'{field_label(loc)}'"
        shown = f", got {describe(value, written)}"
    if kind == "extra_forbidden":
        names = field_names(model_at(model, loc[:-1]))
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else (
            f"; known fields: {', '.join(names)}" if names else "")
        return f"unknown field '{str(loc[-1])[:60]}'{hint}"
    if kind == "missing":
        return f"missing required field '{loc[-1]}'"
    if kind == "invalid_key":
        return f"key {str(loc[-1])[:60]} must be a string: quote it (\"{str(loc[-1])[:60]}\")"
    if kind in _EXPECTED:
        hint = _quote_hint(value, written) if kind == "string_type" else ""
        return f"expected {_EXPECTED[kind]}{shown}{hint}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern == SEALED_PATTERN:
            # Never echo it: what sits in a sealed field may be a pasted plaintext secret.
            return (f"{subject} takes a value sealed with 'fleetward seal' (sealed:v1:...); what is written "
                    "here is not shown, as it may be a plaintext secret: seal it, and treat the plaintext as "
                    "exposed (it is in git history)")
        return f"{subject} {PATTERN_HINTS.get(pattern, f'must match {pattern}')}{shown}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = re.findall(r"'([^']*)'", expected)
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{subject} must be {expected}{shown}{hint}"
    message = str(error["msg"])
    message = re.sub(r"^(Value|Assertion) error, ", "", message)
    if kind in ("value_error", "assertion_error"):
        return message
    return f"{subject}: {message[:1].lower()}{message[1:]}"
