"""Device warranties: vendor lookups (Dell, Lenovo, HP), a cache per serial, manual records, expiry alerts.

The parts, each its own module:

* ``errors``: why a lookup failed and when to try again;
* ``calling``: bounded, timed-out HTTP to a vendor, failures turned into those errors;
* ``tokens``: OAuth2 client-credentials tokens kept until they expire;
* ``dell``, ``lenovo``, ``hp``: one provider per vendor, behind ``providers.WarrantyProvider``;
* ``serials``: manufacturer to vendor, and which serials are worth asking about;
* ``results``: a vendor's answer in one shape;
* ``records``: the ``asset_warranties`` cache, manual records winning over lookups;
* ``alerting``: expiry alerts at 90/60/30 days and after the end;
* ``refreshing``: the background refresher and :func:`lookup_now`;
* ``reading``: one serial's record for the API.
"""

from __future__ import annotations

from controller.warranty.errors import (
    VendorAnswerInvalid,
    VendorAuthFailed,
    VendorThrottled,
    VendorUnavailable,
    WarrantyLookupError,
    WarrantySetupError,
)
from controller.warranty.providers import WarrantyProvider, build_provider, build_providers
from controller.warranty.refreshing import RefreshReport, WarrantyRefresher, lookup_now
from controller.warranty.results import Coverage, WarrantyResult

__all__ = [
    "Coverage",
    "RefreshReport",
    "VendorAnswerInvalid",
    "VendorAuthFailed",
    "VendorThrottled",
    "VendorUnavailable",
    "WarrantyLookupError",
    "WarrantyProvider",
    "WarrantyRefresher",
    "WarrantyResult",
    "WarrantySetupError",
    "build_provider",
    "build_providers",
    "lookup_now",
]
