"""The ``licenses`` inventory section: licence keys the OS exposes (being written)."""

from __future__ import annotations

from schemas.inventory import LicenseKeyItem


def collect_license_keys() -> list[LicenseKeyItem]:
    """Licences the OS exposes; never logged."""
    return []
