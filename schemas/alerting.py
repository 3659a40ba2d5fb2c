"""``AlertTicketRule``: which agent alerts become tickets, how they are held back, routed and escalated.

Rules live in git; the controller's pure engine (``controller.tickets.rules``) reads them to decide,
for each alert event, whether to open, note, resolve or annotate a ticket. This module only describes
and validates a rule, so a broken rule is refused when the repository loads rather than when the
first alert arrives: jinja2 templates are parsed here and may name only the variables the engine
provides (``alert``, ``device``, ``client``), escalation steps must be in time order, and the
occurrence-count suppression needs both of its halves.

The first shape (match, ``persistMinutes``, routing, title, enabled) keeps its fields and defaults.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator, Field, StringConstraints, model_validator

from schemas.resources import DnsLabel, LabelKey, LabelValue, Resource, SpecModel, register_kind

Severity = Literal["info", "warning", "critical"]
Priority = Literal["low", "medium", "high", "critical"]
OnClear = Literal["resolve", "annotate", "nothing"]

TEMPLATE_VARIABLES = frozenset({"alert", "device", "client"})
"""The names a rule's templates may use; the engine's rendering context provides exactly these."""

DEFAULT_TITLE = "{{ alert.type }} on {{ device.hostname }}"
DEFAULT_DEDUP_KEY = "{{ device.id }}/{{ alert.type }}"
DEFAULT_BODY = (
    "{{ alert.message }}\n\n"
    "Device: {{ device.hostname }} ({{ device.id }})\n"
    "Client: {{ client.name }}\n"
    "Severity: {{ alert.severity }}\n"
    "Raised at: {{ alert.raised_at }}\n"
)
MAX_ESCALATION_STEPS = 10

AlertTypePattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:*-]+$"),
    Field(description="An alert type, exactly, or a pattern where '*' stands for any run of characters "
                      "(e.g. 'disk_*'); letters, digits, '_', '.', ':', '-' and '*'."),
]
EmailAddress = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"),
    Field(description="An e-mail address such as oncall@example.com."),
]


def _check_template(text: str) -> str:
    """Refuse a template that jinja2 cannot parse or that names a variable the engine does not provide."""
    environment = SandboxedEnvironment()
    try:
        parsed = environment.parse(text)
    except TemplateSyntaxError as error:
        raise ValueError(f"template syntax error at line {error.lineno}: {error.message}; "
                         "fix the jinja2 syntax (e.g. '{{ alert.type }}')") from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES)
    if unknown:
        raise ValueError(f"template uses unknown variable(s) {', '.join(repr(name) for name in unknown)}; "
                         f"templates may use only {', '.join(sorted(TEMPLATE_VARIABLES))}")
    return text


Template = Annotated[str, AfterValidator(_check_template)]


class AlertMatch(SpecModel):
    """Every non-empty list must match; empty lists match anything. The rule's place in the
    repository scopes it: a rule under ``clients/<name>/`` sees only that client's alerts."""

    alert_types: list[AlertTypePattern] = Field(default_factory=list, max_length=100)
    severities: list[Severity] = Field(default_factory=list)
    groups: list[DnsLabel] = Field(default_factory=list, max_length=100,
                                   description="The device must be in at least one of these groups.")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict,
                                               description="The device's labels must include all of these.")


class Routing(SpecModel):
    board: str | None = Field(default=None, max_length=200)
    priority: Priority | None = None
    assignee: str | None = Field(default=None, max_length=200)
    connector: DnsLabel | None = Field(
        default=None, description="Name of a PSA connector configured elsewhere; unset: the built-in ticket "
                                  "store only.")


class EscalationStep(SpecModel):
    after_minutes: int = Field(ge=1, le=43_200,
                               description="Applies when the ticket is still not acknowledged this long after "
                                           "it opened.")
    priority: Priority | None = None
    assignee: str | None = Field(default=None, max_length=200)
    notify: list[EmailAddress] = Field(default_factory=list, max_length=20)


def _check_escalation(steps: list[EscalationStep]) -> list[EscalationStep]:
    for earlier, later in pairwise(steps):
        if later.after_minutes <= earlier.after_minutes:
            raise ValueError(f"escalation steps must be in increasing afterMinutes order, but "
                             f"{later.after_minutes} follows {earlier.after_minutes}; sort the steps and give "
                             "each a later time than the one before")
    return steps


class AlertTicketRuleSpec(SpecModel):
    description: str = Field(default="", max_length=2000)
    match: AlertMatch = Field(default_factory=AlertMatch)
    persist_minutes: int = Field(default=0, ge=0, le=10_080,
                                 description="The alert must last this long before a ticket opens.")
    occurrences: int | None = Field(
        default=None, ge=1, le=1000,
        description="Open a ticket when the alert was raised at least this many times within withinMinutes "
                    "(catches flapping alerts that never last persistMinutes). Needs withinMinutes.")
    within_minutes: int | None = Field(default=None, ge=1, le=10_080,
                                       description="The window counted by occurrences.")
    dedup_key: Template = Field(
        default=DEFAULT_DEDUP_KEY, max_length=500,
        description="Alerts rendering the same key share one open ticket; repeats add a note to it. "
                    "Default: one open ticket per device and alert type.")
    on_clear: OnClear = Field(default="resolve",
                              description="What clearing the alert does to its open ticket.")
    routing: Routing = Field(default_factory=Routing)
    title: Template = Field(default=DEFAULT_TITLE, max_length=500)
    body: Template = Field(default=DEFAULT_BODY, max_length=20_000)
    escalation: Annotated[list[EscalationStep], AfterValidator(_check_escalation)] = Field(
        default_factory=list, max_length=MAX_ESCALATION_STEPS,
        description="Steps applied in turn while the ticket stays unacknowledged.")
    enabled: bool = True

    @model_validator(mode="after")
    def _occurrences_need_a_window(self) -> AlertTicketRuleSpec:
        if (self.occurrences is None) != (self.within_minutes is None):
            raise ValueError("occurrences and withinMinutes go together: set both (e.g. occurrences: 3, "
                             "withinMinutes: 60) or neither")
        return self


@register_kind
class AlertTicketRule(Resource):
    kind: Literal["AlertTicketRule"]
    spec: AlertTicketRuleSpec

