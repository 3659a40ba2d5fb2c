"""Reading JSON that PowerShell and iproute2 print, tolerating what they do at the edges.

PowerShell's ``ConvertTo-Json`` writes one object instead of a list when there is one result, and nothing
at all when there is none; iproute2 writes ``[]``. Values are untrusted: anything not a string is ''.
"""

from __future__ import annotations

import json
from typing import Any


def json_objects(text: str) -> list[dict[str, Any]]:
    """The objects of a JSON list (or the one object); ``[]`` for empty or invalid JSON."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return [entry for entry in (data if isinstance(data, list) else [data]) if isinstance(entry, dict)]


def text_field(value: object) -> str:
    """A string field, stripped and capped at 200 characters; '' for anything else."""
    return value.strip()[:200] if isinstance(value, str) else ""
