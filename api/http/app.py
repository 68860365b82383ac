"""The FastAPI application: routers from their own modules, errors mapped in one place.

Every error leaves as ``{"error": code, "reasons": [...], "detail": text}``.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.bootstrap import App
from api.http.deps import AuthError
from workflow.errors import CaseNotFound, ComplaintsError, EventRefused, UnknownPolicy, VersionConflict

# Modules that each define `router` (an APIRouter); included in this order.
ROUTER_MODULES: tuple[str, ...] = ("api.http.routes_health",)


def error_body(code: str, reasons: list[str], detail: Any) -> dict[str, Any]:
    return {"error": code, "reasons": reasons, "detail": detail}


def _status_for(err: ComplaintsError) -> int:
    if isinstance(err, EventRefused):
        return 422 if err.is_invalid_data else 409
    if isinstance(err, CaseNotFound | UnknownPolicy):
        return 404
    if isinstance(err, VersionConflict):
        return 412
    return 422


def create_app(app: App) -> FastAPI:
    api = FastAPI(
        title="Complaints workflow",
        version="0.1.0",
        description="Complaint cases as state machines under a landlord's policy and the 2024 Code.",
    )
    api.state.complaints = app

    @api.exception_handler(ComplaintsError)
    async def _domain(_request: Request, err: ComplaintsError) -> JSONResponse:
        details = getattr(err, "details", None) or err.detail
        return JSONResponse(error_body(err.code, err.reasons, details), status_code=_status_for(err))

    @api.exception_handler(AuthError)
    async def _auth(_request: Request, err: AuthError) -> JSONResponse:
        return JSONResponse(error_body(err.code, [err.code], err.detail), status_code=err.status)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in e.get("loc", ())) for e in err.errors()]
        return JSONResponse(
            error_body(
                "invalid_data",
                ["invalid_data"],
                "; ".join(f"{f}: {e.get('msg')}" for f, e in zip(fields, err.errors(), strict=False)),
            ),
            status_code=422,
        )

    @api.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        return JSONResponse(error_body(code, [code], str(err.detail)), status_code=err.status_code)

    for name in ROUTER_MODULES:
        api.include_router(importlib.import_module(name).router)
    return api
