"""The asset inventory API: per-device hardware, software and licence keys; devices discovered
on the network; the change history; the fleet-wide software search.

Read-only and scoped like the rest of the operator API: a client-scoped token sees its
own client's devices only, and a device of another client is 404. Licence keys are
listed masked (the last five characters); the full key is revealed one at a time to an
admin, with the reveal audited and the answer marked not cacheable. Writes of licence
records go through git (``POST /api/assets/licenses`` in :mod:`controller.api.write_routes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from controller.api.auth import ContextDep, OperatorDep, require_role
from controller.api.operator_routes import scope
from controller.api.seal_routes import sealing_keys
from controller.secrets import open_sealed
from controller.store import (
    HardwareRecord,
    HistoryRecord,
    LicenseKeyRecord,
    NetworkDeviceRecord,
    SoftwareMatch,
    SoftwarePage,
    get_hardware,
    list_device_license_keys,
    list_device_software,
    list_history,
    list_network_devices,
    record_audit,
    sealed_license_key,
    search_software,
)
from schemas.protocol import SoftwareSource

router = APIRouter(prefix="/api", tags=["assets"])

Limit = Annotated[int, Query(ge=1, le=10_000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Pattern = Annotated[str | None, Query(max_length=200)]


class LicenseKeyList(BaseModel):
    items: list[LicenseKeyRecord]


class RevealRequest(BaseModel):
    product: str = Field(min_length=1, max_length=500)


class RevealedKey(BaseModel):
    product: str
    key: str


class NetworkDeviceList(BaseModel):
    items: list[NetworkDeviceRecord]


class HistoryList(BaseModel):
    items: list[HistoryRecord]
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page; null at the end.")


class SoftwareSearch(BaseModel):
    devices: int = Field(description="How many devices match (all of them, not only this page).")
    items: list[SoftwareMatch]


@router.get("/agents/{agent_id}/inventory/hardware", response_model=HardwareRecord)
def hardware(agent_id: str, principal: OperatorDep, ctx: ContextDep) -> HardwareRecord:
    """The device's last hardware report: system, CPU, memory, disks, volumes, interfaces,
    displays, peripherals, OS and logged-in users."""
    return get_hardware(ctx.store, agent_id, principal.client)


@router.get("/agents/{agent_id}/inventory/software", response_model=SoftwarePage)
def software(agent_id: str, principal: OperatorDep, ctx: ContextDep, name: Pattern = None,
             publisher: Pattern = None, source: SoftwareSource | None = None, limit: Limit = 1000,
             offset: Offset = 0) -> SoftwarePage:
    """Installed software by name. ``name`` and ``publisher`` match case-insensitively, as a
    substring or a ``*`` pattern; ``total`` counts every match, ``limit``/``offset`` page."""
    return list_device_software(ctx.store, agent_id, principal.client, name=name, publisher=publisher,
                                source=source, limit=limit, offset=offset)


@router.get("/agents/{agent_id}/inventory/licenses", response_model=LicenseKeyList)
def licenses(agent_id: str, principal: OperatorDep, ctx: ContextDep) -> LicenseKeyList:
    """Licence keys the OS exposes (Windows product key, activation status), masked."""
    return LicenseKeyList(items=list_device_license_keys(ctx.store, agent_id, principal.client))


@router.post("/agents/{agent_id}/inventory/licenses/reveal", response_model=RevealedKey)
def reveal_license(agent_id: str, body: RevealRequest, principal: OperatorDep, ctx: ContextDep,
                   request: Request, response: Response) -> RevealedKey:
    """One full licence key, opened from its sealed form. Admin only; every reveal is audited."""
    require_role(principal, "admin")
    sealed = sealed_license_key(ctx.store, agent_id, principal.client, body.product)
    key = open_sealed(sealed, sealing_keys(request, ctx).keyring())
    record_audit(ctx.store, actor=principal.name, actor_kind="api-token", action="license-key.reveal",
                 target=f"{agent_id}/{body.product}", client=principal.client,
                 detail={"token_id": principal.token_id}, now=ctx.now())
    response.headers["Cache-Control"] = "no-store"
    return RevealedKey(product=body.product, key=key.reveal())


@router.get("/assets/network-discovered", response_model=NetworkDeviceList)
def network_discovered(principal: OperatorDep, ctx: ContextDep,
                       client: Annotated[str | None, Query(max_length=63)] = None,
                       unmanaged: bool = False, limit: Limit = 1000, offset: Offset = 0) -> NetworkDeviceList:
    """Devices the agents saw on their networks (neighbour tables, gateways, allowed scans).
    ``unmanaged=true`` leaves out the ones that are enrolled devices."""
    visible = scope(principal.client, client)
    return NetworkDeviceList(items=list_network_devices(ctx.store, visible, unmanaged_only=unmanaged,
                                                        limit=limit, offset=offset))


@router.get("/assets/history", response_model=HistoryList)
def history(principal: OperatorDep, ctx: ContextDep,
            client: Annotated[str | None, Query(max_length=63)] = None,
            agent_id: Annotated[str | None, Query(max_length=64)] = None,
            section: Annotated[str | None, Query(pattern="^(software|hardware|licenses)$")] = None,
            since: datetime | None = None, before_id: Annotated[int | None, Query(ge=1)] = None,
            limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> HistoryList:
    """Inventory changes, newest first: software installed, upgraded, removed; RAM, disks,
    serials and other parts added, removed or changed."""
    visible = scope(principal.client, client)
    items = list_history(ctx.store, visible, agent_id=agent_id, section=section, since=since,
                         before_id=before_id, limit=limit)
    return HistoryList(items=items, next_before_id=items[-1].id if len(items) == limit else None)


@router.get("/assets/software", response_model=SoftwareSearch)
def software_search(principal: OperatorDep, ctx: ContextDep,
                    name: Annotated[str, Query(min_length=1, max_length=200)],
                    min_version: Annotated[str | None, Query(max_length=200)] = None,
                    max_version: Annotated[str | None, Query(max_length=200)] = None,
                    client: Annotated[str | None, Query(max_length=63)] = None,
                    limit: Limit = 1000) -> SoftwareSearch:
    """Which devices have software ``name`` (exact, case-insensitive; ``*`` is a wildcard) with a
    version in [min_version, max_version], versions ordered as dpkg orders them."""
    visible = scope(principal.client, client)
    devices, items = search_software(ctx.store, visible, name, minimum=min_version, maximum=max_version,
                                     limit=limit)
    return SoftwareSearch(devices=devices, items=items)
