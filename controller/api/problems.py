"""Errors as JSON with a stable ``code``, never a stack trace.

Every error response is ``schemas.protocol.ErrorBody``. The codes are part of the API
contract: clients branch on them, people read ``message``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from controller.errors import (
    AccessDenied,
    Conflict,
    FleetwardError,
    NotFound,
    TemporaryError,
)

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, Conflict: 409, AccessDenied: 401}


class ApiError(Exception):
    """An error a handler raises with an explicit status and code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, *, detail: list[dict[str, object]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def _status_of(error: FleetwardError) -> int:
    for cls, status in _STATUS.items():
        if isinstance(error, cls):
            return status
    if isinstance(error, TemporaryError):
        return 503
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, headers=error.headers)

    @app.exception_handler(FleetwardError)
    async def _fleetward_error(_request: Request, error: FleetwardError) -> JSONResponse:
        status = _status_of(error)
        headers = {}
        if isinstance(error, TemporaryError):
            headers["Retry-After"] = str(max(1, int(error.delay)))
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(status, error.code, error.message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        detail: list[dict[str, object]] = [
            {"loc": [str(part) for part in item.get("loc", ())], "message": str(item.get("msg", "")),
             "type": str(item.get("type", ""))}
            for item in error.errors()
        ]
        return error_response(422, "invalid_request", "the request body or parameters are invalid",
                              detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
                 413: "body_too_large"}
        return error_response(error.status_code, codes.get(error.status_code, "http_error"),
                              str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error in request")
        return error_response(500, "internal_error", "the controller hit an internal error; it was logged")
