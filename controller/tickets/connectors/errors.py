"""Why a ticket connector call failed, and whether (and when) the outbox should try again.

::

    FleetwardError                 (controller.errors)
    └── ConnectorError             .connector names the PSA; .retryable; .delay in seconds
        ├── ConnectorUnavailable   timeout, connection refused, 5xx: retryable, back off
        ├── ConnectorThrottled     429 (or 503 with Retry-After): retryable after .delay (capped)
        ├── ConnectorAnswerInvalid not JSON, too large, or not the documented shape: retryable
        ├── ConnectorRejected      any other 4xx (401/403 included): permanent; .hint says what to fix
        └── ConnectorSetupError    the connector's settings cannot work (bad URL, plain http to a
                                   remote host, an idempotency key the PSA cannot store): permanent

The transactional outbox reads only ``retryable`` and ``delay``: a retryable error keeps the
message queued, a permanent one parks it for an admin with the message and hint. Messages never
quote a credential or a vendor's answer body (an error page may echo what we sent); at most the
vendor's short error ``code`` is kept, because it is what an admin searches the vendor docs for.
"""

from __future__ import annotations

from controller.errors import FleetwardError


class ConnectorError(FleetwardError):
    code = "ticket_connector_failed"
    retryable = True

    def __init__(self, connector: str, message: str, *, hint: str = "", delay: float = 0.0) -> None:
        super().__init__(f"{connector}: {message}", hint=hint)
        self.connector = connector
        self.delay = delay
        """Seconds to wait before trying again (0: the outbox's own backoff decides)."""


class ConnectorUnavailable(ConnectorError):
    code = "ticket_connector_unavailable"


class ConnectorThrottled(ConnectorError):
    code = "ticket_connector_throttled"


class ConnectorAnswerInvalid(ConnectorError):
    code = "ticket_connector_answer_invalid"


class ConnectorRejected(ConnectorError):
    code = "ticket_connector_rejected"
    retryable = False

    def __init__(self, connector: str, message: str, *, hint: str = "", status: int | None = None) -> None:
        super().__init__(connector, message, hint=hint)
        self.status = status


class ConnectorSetupError(ConnectorError):
    code = "ticket_connector_setup_invalid"
    retryable = False
