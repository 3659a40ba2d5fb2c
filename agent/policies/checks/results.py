"""What evaluating one check says: a status and short, human-readable evidence.

``not_applicable`` is for a check this machine cannot answer (a type its OS does not have, a
desktop setting on a machine without that desktop); it is never reported as compliant. Evidence
is capped and never carries file contents, command output beyond a short excerpt, or secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["compliant", "non_compliant", "error", "not_applicable"]

MAX_EVIDENCE_CHARS = 1000


@dataclass(frozen=True)
class Finding:
    """An evaluator's answer, before the dispatcher names the check it belongs to."""

    status: Status
    evidence: str


@dataclass(frozen=True)
class CheckResult:
    name: str
    type: str
    status: Status
    evidence: str


def cap(text: str, limit: int = MAX_EVIDENCE_CHARS) -> str:
    text = " ".join(text.split()) if "\n" in text else text.strip()
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def compliant(evidence: str) -> Finding:
    return Finding("compliant", cap(evidence))


def non_compliant(evidence: str) -> Finding:
    return Finding("non_compliant", cap(evidence))


def error(evidence: str) -> Finding:
    return Finding("error", cap(evidence))


def not_applicable(evidence: str) -> Finding:
    return Finding("not_applicable", cap(evidence))


def judged(ok: bool, evidence: str) -> Finding:
    """Compliant when ``ok``, else non-compliant, with the same evidence."""
    return compliant(evidence) if ok else non_compliant(evidence)
