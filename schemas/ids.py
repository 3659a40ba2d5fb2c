"""Identifiers that must not be mixed up with each other or with plain strings."""

from typing import NewType

AgentId = NewType("AgentId", str)
"""A device's identity, assigned by the controller at enrolment (``a_`` + 32 hex)."""

JobId = NewType("JobId", str)
"""One job for one agent (``j_`` + 32 hex)."""

ClientName = NewType("ClientName", str)
"""A tenant: the ``metadata.name`` of a Client resource and its folder under ``clients/``."""

CommitSha = NewType("CommitSha", str)
"""A full 40-hex git commit id."""
