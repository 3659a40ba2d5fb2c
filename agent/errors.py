"""Every error the agent raises on purpose derives from :class:`AgentError`.

::

    AgentError                      (.retryable says whether trying again can help)
    ├── TemporaryError              retryable; .delay is the least time to wait (Retry-After)
    │   ├── ServerUnreachable       no connection, a timeout, or a 5xx from the controller
    │   └── ServerBusy              429/503: the controller asked us to come back later
    └── PermanentError              the same input fails the same way
        ├── ConfigError             bad flags, a missing or unreadable data dir; .hint says what to do
        │   ├── NotEnrolled         no agent.json yet
        │   └── DataDirLocked       another agent process owns the data dir
        ├── CredentialRejected      401: the controller no longer accepts this agent (re-enrol)
        ├── ProtocolError           the controller answered something outside the contract (4xx, bad JSON)
        ├── InsecureUrl             a URL the transport policy forbids (plain http off loopback, ...)
        ├── ArtifactError           a download was the wrong size, hash, or could not be fetched
        ├── UnsafeArchive           an archive member would escape, or the archive exceeds the caps
        └── JobRefused              a job failed verification; .reason goes into the "refused" event

Messages say what went wrong and where; ``hint`` says how to fix it. The CLI
prints ``error: <message>`` and ``hint: <hint>``. No error ever carries the
agent credential.
"""

from __future__ import annotations


class AgentError(Exception):
    retryable: bool = False

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class TemporaryError(AgentError):
    retryable = True

    def __init__(self, message: str, *, hint: str = "", delay: float = 0.0) -> None:
        super().__init__(message, hint=hint)
        self.delay = delay


class ServerUnreachable(TemporaryError):
    pass


class ServerBusy(TemporaryError):
    pass


class PermanentError(AgentError):
    retryable = False


class ConfigError(PermanentError):
    pass


class NotEnrolled(ConfigError):
    pass


class DataDirLocked(ConfigError):
    pass


class CredentialRejected(PermanentError):
    pass


class ProtocolError(PermanentError):
    def __init__(self, message: str, *, hint: str = "", status: int = 0, code: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class InsecureUrl(PermanentError):
    pass


class ArtifactError(PermanentError):
    pass


class UnsafeArchive(PermanentError):
    pass


class JobRefused(PermanentError):
    """Verification failed; ``message`` is the reason reported to the controller."""
