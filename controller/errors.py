"""Every error the controller raises on purpose derives from :class:`FleetwardError`.

::

    FleetwardError                 (.retryable says whether trying again can help)
    ├── TemporaryError             retryable; .delay hints how long to wait
    │   ├── SourceUnavailable      the repository could not be fetched or pushed
    │   └── StoreUnavailable       the database did not answer
    └── PermanentError             the same input will fail the same way
        ├── ConfigError            bad settings, flags or environment; .hint says what to set
        ├── RevisionInvalid        a revision failed validation; .problems lists path:line:col
        ├── NotFound               a named thing does not exist (or is outside the caller's scope)
        ├── Conflict               the request contradicts current state
        └── AccessDenied           authentication or authorisation failed

User-facing errors carry a fix hint; the CLI prints ``error: <message>`` and the
hint, the API maps each class to a status code and a stable ``code``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.loading.problems import Problem


class FleetwardError(Exception):
    retryable: bool = False
    code: str = "error"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class TemporaryError(FleetwardError):
    retryable = True
    code = "temporarily_unavailable"

    def __init__(self, message: str, *, hint: str = "", delay: float = 5.0) -> None:
        super().__init__(message, hint=hint)
        self.delay = delay


class SourceUnavailable(TemporaryError):
    code = "source_unavailable"


class StoreUnavailable(TemporaryError):
    code = "store_unavailable"


class PermanentError(FleetwardError):
    retryable = False


class ConfigError(PermanentError):
    code = "config_error"


class RevisionInvalid(PermanentError):
    code = "revision_invalid"

    def __init__(self, revision: str, problems: Sequence[Problem]) -> None:
        count = len(problems)
        super().__init__(
            f"revision {revision[:12]} is invalid ({count} problem{'s' if count != 1 else ''})",
            hint="fix every path:line:col listed and commit again",
        )
        self.revision = revision
        self.problems = list(problems)


class NotFound(PermanentError):
    code = "not_found"


class Conflict(PermanentError):
    code = "conflict"


class AccessDenied(PermanentError):
    code = "access_denied"
