"""The one interface every vendor lookup implements, and building the providers a Fleet configures.

A provider answers "what is the warranty of these serials" for one vendor. It batches as
its vendor allows (``batch_size`` serials per call), holds its own token, and raises a
:class:`~controller.warranty.errors.WarrantyLookupError` for the whole batch when the
vendor cannot answer; a serial the vendor does not know comes back with ``found=False``.

Credentials come from ``spec.warranty`` in fleet.yaml as sealed values, opened here in
memory (``Secret``) and handed to the provider, which reveals them only where it sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import httpx

from controller.secrets import SealedSecrets, SealedValueError, Secret
from controller.warranty.dell import DellProvider
from controller.warranty.errors import WarrantySetupError
from controller.warranty.hp import HpProvider
from controller.warranty.lenovo import LenovoProvider
from controller.warranty.results import WarrantyResult
from schemas.fleet import WarrantySettings


class WarrantyProvider(Protocol):
    vendor: str
    batch_size: int

    def matches(self, manufacturer: str) -> bool:
        """Whether devices of ``manufacturer`` (as firmware reports it) are this vendor's."""
        ...

    def lookup(self, serials: Sequence[str]) -> dict[str, WarrantyResult]:
        """One result per serial asked (``found`` False when the vendor does not know it)."""
        ...

    def close(self) -> None: ...


def open_secret(sealed: SealedSecrets, value: str, vendor: str, field: str) -> Secret:
    try:
        return sealed.open(value)
    except SealedValueError as error:
        raise WarrantySetupError(vendor, f"spec.warranty.{vendor}.{field} cannot be opened: {error.message}",
                                 hint=f"seal it again with 'fleetward seal' and fix spec.warranty.{vendor} in "
                                      "fleet.yaml") from None


ProviderFactory = Callable[[WarrantySettings, SealedSecrets, httpx.BaseTransport | None],
                           dict[str, WarrantyProvider]]


def build_providers(settings: WarrantySettings, sealed: SealedSecrets,
                    transport: httpx.BaseTransport | None = None) -> dict[str, WarrantyProvider]:
    """A provider per vendor configured in ``settings``, keyed by vendor name.

    Raises WarrantySetupError for the first vendor whose settings cannot be used; callers that
    want the other vendors to keep working call :func:`build_provider` per vendor.
    """
    providers: dict[str, WarrantyProvider] = {}
    for vendor in ("dell", "lenovo", "hp"):
        provider = build_provider(vendor, settings, sealed, transport)
        if provider is not None:
            providers[vendor] = provider
    return providers


def build_provider(vendor: str, settings: WarrantySettings, sealed: SealedSecrets,
                   transport: httpx.BaseTransport | None = None) -> WarrantyProvider | None:
    """The provider for ``vendor``, None when fleet.yaml does not configure it."""
    if vendor == "dell" and settings.dell is not None:
        dell = settings.dell
        return DellProvider(open_secret(sealed, dell.client_id, "dell", "clientId"),
                            open_secret(sealed, dell.client_secret, "dell", "clientSecret"),
                            dell.base_url, transport=transport)
    if vendor == "lenovo" and settings.lenovo is not None:
        lenovo = settings.lenovo
        return LenovoProvider(open_secret(sealed, lenovo.client_id, "lenovo", "clientId"), lenovo.base_url,
                              transport=transport)
    if vendor == "hp" and settings.hp is not None:
        hp = settings.hp
        return HpProvider(open_secret(sealed, hp.api_key, "hp", "apiKey"),
                          open_secret(sealed, hp.api_secret, "hp", "apiSecret"), hp.base_url, transport=transport)
    return None
