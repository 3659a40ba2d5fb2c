"""The one settings object the agent runs with, built by the CLI and passed down.

Nothing below the CLI reads the environment or argv; every knob a test or an
integration test may want to turn (caps, long-poll time, intervals) is a field
here, with the production default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.limits import MAX_ARTIFACT_BYTES


@dataclass(frozen=True)
class AgentSettings:
    data_dir: Path

    http_timeout_seconds: float = 30.0
    """Connect/read timeout for protocol calls (a long-poll adds its wait on top)."""

    download_timeout_seconds: float = 60.0
    """Connect timeout and the longest silence tolerated while an artifact streams."""

    max_response_bytes: int = 8 * 1024 * 1024
    """A controller answer larger than this is refused unread."""

    long_poll_seconds: float = 20.0
    """After running jobs, the service loop long-polls this long for follow-ups (0 = never)."""

    max_jobs_per_lease: int = 10

    max_artifact_bytes: int = MAX_ARTIFACT_BYTES
    """Downloads without a declared size stop here."""

    max_archive_members: int = 100_000
    max_extracted_bytes: int = 16 * 1024 * 1024 * 1024
    """Caps on what one archive may unpack to; counted while writing, not from headers."""

    inventory_rescan_seconds: float = 3600.0
    """How often the loop re-collects inventory by itself to spot local changes."""

    full_inventory_seconds: float = 24 * 3600.0
    """How often a full inventory is sent even if nothing changed (the controller's safety net)."""

    collection_cpu_budget_seconds: float = 2.0
    """CPU (the collecting thread plus the tools it ran) one inventory collection should stay under;
    over it, a warning is logged and the next collection skips optional work (install dates)."""

    reverse_dns: bool = True
    """Look up names of the devices network discovery finds (queries the system's DNS resolver).
    ``FLEETWARD_AGENT_REVERSE_DNS=off`` turns it off where DNS traffic is not wanted (tests)."""

    backoff_cap_seconds: float = 300.0
    """Longest wait between retries after errors (exponential backoff with full jitter)."""

    max_retry_after_seconds: float = 3600.0
    """A Retry-After beyond this is treated as this, so a bad proxy cannot park the agent for days."""

    journal_keep: int = 1000
    """Acknowledged results kept in the journal (for replay detection); older ones are pruned."""
