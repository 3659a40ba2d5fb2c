"""Why a warranty lookup failed, and whether (and when) to try again.

::

    TemporaryError                 (controller.errors)   retryable; .delay in seconds
    └── WarrantyLookupError        code "warranty_lookup_failed"; .vendor, .kind
        ├── VendorThrottled        429 (or 503 with Retry-After): .delay is what the vendor asked for
        ├── VendorUnavailable      timeout, connection refused, 5xx: retry with backoff
        ├── VendorAnswerInvalid    not JSON, too large, or not the documented shape: retry with backoff
        └── VendorAuthFailed       the vendor refused the credentials: fix spec.warranty in fleet.yaml
    PermanentError
    └── WarrantySetupError         the Fleet's warranty settings cannot be used (a sealed value that
                                   does not open, plain http to a remote host): fix fleet.yaml

Every lookup error is recorded on the serials it concerned (``last_error``); the cached
result stays, and the serial is tried again at ``next_attempt_at``. Messages never quote a
credential or a vendor's answer body (which might echo one).
"""

from __future__ import annotations

from typing import Literal

from controller.errors import PermanentError, TemporaryError

ErrorKind = Literal["throttled", "unavailable", "invalid-answer", "auth", "setup"]


class WarrantyLookupError(TemporaryError):
    code = "warranty_lookup_failed"
    kind: ErrorKind = "unavailable"

    def __init__(self, vendor: str, message: str, *, hint: str = "", delay: float | None = None) -> None:
        super().__init__(f"{vendor}: {message}", hint=hint, delay=delay if delay is not None else 0.0)
        self.vendor = vendor
        self.asked_delay = delay
        """Seconds the vendor asked us to wait (Retry-After), None when it did not say."""


class VendorThrottled(WarrantyLookupError):
    code = "warranty_vendor_throttled"
    kind: ErrorKind = "throttled"


class VendorUnavailable(WarrantyLookupError):
    code = "warranty_vendor_unavailable"
    kind: ErrorKind = "unavailable"


class VendorAnswerInvalid(WarrantyLookupError):
    code = "warranty_vendor_answer_invalid"
    kind: ErrorKind = "invalid-answer"


class VendorAuthFailed(WarrantyLookupError):
    code = "warranty_vendor_auth_failed"
    kind: ErrorKind = "auth"


class WarrantySetupError(PermanentError):
    code = "warranty_setup_invalid"
    kind: ErrorKind = "setup"

    def __init__(self, vendor: str, message: str, *, hint: str = "") -> None:
        super().__init__(f"{vendor}: {message}", hint=hint)
        self.vendor = vendor
