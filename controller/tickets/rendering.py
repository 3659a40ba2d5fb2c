"""Rendering a rule's templates (title, body, dedup key) into ticket text, safely and never failing.

Templates come from git, so they are checked for syntax when the repository loads
(``schemas.alerting``); what can still go wrong is at render time: a missing key in an alert's
detail, a filter given the wrong type, or a template that tries to produce megabytes. Rendering
therefore runs in jinja2's ``SandboxedEnvironment`` with ``StrictUndefined`` (a typo is an error,
not an empty string), stops producing output past a cap, refuses huge ``*`` / ``**`` results and
long ``range()`` loops, and strips control characters (a title is one line; a body keeps newlines
and tabs). A template that fails falls back to plain text built from the alert, and the error is
returned alongside so the caller can show it on the ticket and in the rule's status.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

TITLE_MAX_CHARS = 250
BODY_MAX_CHARS = 20_000
DEDUP_KEY_MAX_CHARS = 200
_MAX_RANGE = 1000
_MAX_PRODUCT = 100_000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_AND_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Rendered:
    """The text to use, and the error that made it a fallback (None when the template rendered)."""

    text: str
    error: str | None = None


class _CappedSandbox(SandboxedEnvironment):
    """The jinja2 sandbox, also refusing operations that would build very large values."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError(f"exponent {right} is too large for a ticket template (at most 64)")
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if isinstance(sized, str | list | tuple) and isinstance(times, int) \
                        and len(sized) * times > _MAX_PRODUCT:
                    raise SecurityError(f"repeating a value {times} times would exceed {_MAX_PRODUCT} items")
        return super().call_binop(context, operator, left, right)


def _small_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > _MAX_RANGE:
        raise SecurityError(f"range() of {len(numbers)} items is too long for a ticket template "
                            f"(at most {_MAX_RANGE})")
    return numbers


def _environment() -> SandboxedEnvironment:
    environment = _CappedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    environment.globals["range"] = _small_range
    return environment


def _capped(chunks: Iterator[str], limit: int) -> str:
    """Join rendered chunks, stopping as soon as the limit is passed so huge output is never built."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return "".join(parts)[:limit]


def clean_line(text: str, limit: int) -> str:
    """One line: control characters and line breaks become spaces, runs of spaces collapse, capped."""
    return " ".join(_CONTROL_AND_LINE_BREAKS.sub(" ", text).split())[:limit]


def clean_text(text: str, limit: int) -> str:
    """Multi-line text: newlines and tabs kept, other control characters dropped, capped."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))[:limit]


@lru_cache(maxsize=1024)
def _compiled(template: str) -> Template:
    """A rule's template compiled once: compiling costs milliseconds, rendering microseconds, and a
    storm renders the same few templates thousands of times. A syntax error is not cached (raised
    again on every call), and the sandbox keeps no state between renders."""
    return _environment().from_string(template)


def render(template: str, context: Mapping[str, Any], limit: int) -> str:
    """Render ``template`` with ``context``, raw (uncleaned) and capped; raises jinja2's errors."""
    return _capped(_compiled(template).generate(**context), limit)


def _describe(error: Exception) -> str:
    kind = type(error).__name__
    return clean_line(f"{kind}: {error}", 500)


def _attempt(template: str, context: Mapping[str, Any], limit: int) -> tuple[str | None, str | None]:
    try:
        return render(template, context, limit), None
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError,
            RecursionError) as error:
        return None, _describe(error)


def fallback_title(context: Mapping[str, Any]) -> str:
    """``<severity> <alert type> on <hostname>``, from whatever of those the context holds."""
    alert = context.get("alert") or {}
    device = context.get("device") or {}
    return clean_line(f"{alert.get('severity', 'alert')} {alert.get('type', 'unknown')} on "
                      f"{device.get('hostname') or device.get('id') or 'unknown device'}", TITLE_MAX_CHARS)


def render_title(template: str, context: Mapping[str, Any]) -> Rendered:
    """The ticket title: one clean line of at most 250 characters, or the plain fallback and the error."""
    text, error = _attempt(template, context, TITLE_MAX_CHARS * 4)
    if text is not None:
        title = clean_line(text, TITLE_MAX_CHARS)
        if title:
            return Rendered(title)
        error = "the title template rendered an empty title"
    return Rendered(fallback_title(context), f"title: {error}")


def render_body(template: str, context: Mapping[str, Any]) -> Rendered:
    """The ticket body: at most 20,000 characters; on failure the alert's message and the error."""
    text, error = _attempt(template, context, BODY_MAX_CHARS)
    if text is not None:
        return Rendered(clean_text(text, BODY_MAX_CHARS))
    alert = context.get("alert") or {}
    fallback = f"{alert.get('message', '')}\n\n(The rule's body template failed: {error})"
    return Rendered(clean_text(fallback, BODY_MAX_CHARS), f"body: {error}")


def render_dedup_key(template: str, context: Mapping[str, Any]) -> Rendered:
    """The dedup key: one clean line of at most 200 characters; on failure the default device/type key.

    An empty rendering also falls back, so a broken key never merges every alert into one ticket.
    """
    text, error = _attempt(template, context, DEDUP_KEY_MAX_CHARS * 4)
    if text is not None:
        key = clean_line(text, DEDUP_KEY_MAX_CHARS)
        if key:
            return Rendered(key)
        error = "the dedup key template rendered an empty key"
    alert = context.get("alert") or {}
    device = context.get("device") or {}
    fallback = clean_line(f"{device.get('id', '')}/{alert.get('type', '')}", DEDUP_KEY_MAX_CHARS)
    return Rendered(fallback, f"dedupKey: {error}")
