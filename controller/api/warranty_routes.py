"""``GET /api/assets/warranty/{serial_number}``: one device serial's warranty, scoped by the token's client.

Answers from the warranty cache (``asset_warranties``): the vendor, whether a lookup or a
manual ``Warranty`` record says so, the dates, the days left, how fresh the answer is, and
why the last lookup failed if it did. ``?refresh=true`` (operator or admin) asks the vendor
now, through the controller's warranty refresher (``app.state.warranty``), and then answers.
A serial the caller's client does not own is not found, like one nobody knows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from controller.api.auth import ContextDep, OperatorDep, require_role
from controller.api.problems import ApiError
from controller.warranty import WarrantyRefresher
from controller.warranty.reading import MAX_SERIAL_LENGTH, WarrantyPublic, read_warranty, visible

router = APIRouter(prefix="/api/assets", tags=["assets"])


@router.get("/warranty/{serial_number}", response_model=WarrantyPublic)
async def get_warranty(
    request: Request, ctx: ContextDep, principal: OperatorDep,
    serial_number: Annotated[str, Path(min_length=1, max_length=MAX_SERIAL_LENGTH)],
    refresh: Annotated[bool, Query(description="Ask the vendor now (operator role)")] = False,
) -> WarrantyPublic:
    """The warranty of the device with this serial number (service tag)."""
    if refresh:
        require_role(principal, "operator")
        refresher: WarrantyRefresher | None = getattr(request.app.state, "warranty", None)
        if refresher is None:
            raise ApiError(503, "warranty_lookups_off", "this controller runs no warranty refresher; the cached "
                                                        "record is shown without ?refresh=true",
                           headers={"Retry-After": "60"})
        if await run_in_threadpool(visible, ctx.store, serial_number, principal.client):
            await run_in_threadpool(refresher.lookup_now, [serial_number])
    found = await run_in_threadpool(read_warranty, ctx.store, serial_number, principal.client, ctx.now().date())
    if not isinstance(found, WarrantyPublic):
        raise ApiError(404, "warranty_not_found", found.hint)
    return found
