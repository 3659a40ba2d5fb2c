"""``fleetward-agent``: the endpoint side of Fleetward.

The agent runs as a service on a managed machine. It enrols once with a
client's enrolment token, then loops: a cheap check-in, inventory when the
controller asks (or something changed), lease signed jobs, verify them, run
them, report the results. It depends only on ``schemas`` (the wire contract),
pydantic, httpx, cryptography, psutil and the standard library, so it stays
small to install; import-linter keeps controller code out of it.

Modules, from the edge inwards::

    cli          argparse front end, output formats, exit codes
    looping      the service loop: intervals, jitter, backoff, signals
    cycle        one full cycle: check-in, inventory, lease, execute, report
    enrolling    exchanging an enrolment token for an identity
    connection   the HTTP client for /api/agent/v1
    verifying    signature, identity, expiry and replay checks on a job
    executing    running a verified job and recording its result
    installing   the archive installer: detect, install, upgrade, uninstall
    downloading  fetching artifacts with size and SHA-256 pinning
    archives     reading tar/zip members into one neutral shape
    extracting   writing those members safely into a destination
    inventory    facts, software and managed sections, hashed
    facts        what the machine is
    software     what the OS package managers say is installed
    receipts     what Fleetward itself installed
    journal      finished jobs and the outbox of unacknowledged results
    state        the data directory: layout, config, state, lock
    urls         which URLs the agent may talk to
    settings     the one settings object passed down from the CLI
    version      the agent's version
    errors       the exception tree
"""

from agent.version import __version__

__all__ = ["__version__"]
