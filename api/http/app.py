"""The FastAPI application: routers from their own modules, errors mapped in one place.

Every error leaves as ``{"error": code, "reasons": [...], "detail": text, "details": {...}}``
(api/http/errors.py); nothing a client sends can produce a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import console
from api.bootstrap import App
from api.http import fast_events
from api.http.deps import AuthError
from api.http.errors import domain_error, error_body, status_for, unavailable, validation_error
from storage.database import DatabaseUnavailable
from workflow.errors import ComplaintsError

__all__ = ["ROUTER_MODULES", "create_app", "error_body", "status_for"]

# Modules that each define `router` (an APIRouter); included in this order.
ROUTER_MODULES: tuple[str, ...] = (
    "api.http.routes_health",
    "api.http.routes_cases",
    "api.http.routes_policies",
    "api.http.routes_tokens",
    "api.http.routes_report",
    "api.http.routes_diagram",
    "api.http.routes_audit",
    "api.http.routes_feed",
    "api.http.routes_webhooks",
    "api.http.routes_work",
    "api.http.routes_imports",
)


def create_app(app: App) -> FastAPI:
    api = FastAPI(
        title="Complaints workflow",
        version="0.1.0",
        description=(
            "Complaint cases as state machines under a landlord's policy and the 2024 Code. "
            "Send `Authorization: Bearer <token>` (made with `complaints token create`), "
            "`Idempotency-Key` on every POST, and `If-Match: <version>` on event posts."
        ),
    )
    api.state.complaints = app

    @api.exception_handler(ComplaintsError)
    async def _domain(_request: Request, err: ComplaintsError) -> JSONResponse:
        status, body = domain_error(err)
        return JSONResponse(body, status_code=status)

    @api.exception_handler(AuthError)
    async def _auth(_request: Request, err: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse(error_body(err.code, [err.code], err.detail), status_code=err.status, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        status, body = validation_error(err)
        return JSONResponse(body, status_code=status)

    @api.exception_handler(DatabaseUnavailable)
    async def _unavailable(_request: Request, err: DatabaseUnavailable) -> JSONResponse:
        status, body = unavailable(err)
        return JSONResponse(body, status_code=status)

    @api.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 400:  # a body that is not JSON (or not UTF-8): invalid data like any other
            body = error_body("invalid_data", ["invalid_data"], f"invalid request: {err.detail}", {"body": err.detail})
            return JSONResponse(body, status_code=422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code, "http_error")
        return JSONResponse(error_body(code, [code], str(err.detail)), status_code=err.status_code, headers=err.headers)

    @api.exception_handler(Exception)
    async def _crash(_request: Request, _err: Exception) -> JSONResponse:
        # A bug, never bad input; the server logs the traceback, the client gets the usual shape.
        body: dict[str, Any] = error_body("internal_error", ["internal_error"], "internal error; see the server log")
        return JSONResponse(body, status_code=500)

    for name in ROUTER_MODULES:
        api.include_router(importlib.import_module(name).router)
    fast_events.install(api)  # the event post's fast path, ahead of FastAPI's route (api/http/fast_events.py)
    console.mount(api)  # the web console at /ui/ (api/console)
    return api
