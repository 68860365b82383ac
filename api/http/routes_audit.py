"""The auditor's HTTP routes: replay at a moment, verify, timeline, what-if. Read-only, role ``auditor``.

Each is the same query the CLI runs (service/audit/__init__.py); ``as_of``,
``known_at`` and ``until`` are ISO 8601 instants with an offset (a missing
offset is ``invalid_data``, 422).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from service.audit import AuditService, parse_instant
from service.audit.render import timeline_html, timeline_text

router = APIRouter(tags=["audit"])
AUDITOR = require("auditor")


def _audit(app: App) -> AuditService:
    return AuditService(app.engine, app.catalog)


@router.get("/cases/{case_id}/replay", responses=documented(401, 403, 404, 422))
def replay(
    case_id: str,
    as_of: str | None = Query(None, description="fold the events that had occurred by this instant"),
    known_at: str | None = Query(None, description="fold the events recorded by this instant"),
    _who: Caller = Depends(AUDITOR),
    app: App = Depends(get_app),
) -> dict[str, Any]:
    """The case as it stood: state, open deadlines and breaches, and which events were folded."""
    return _audit(app).replay(case_id, parse_instant(as_of, "as_of"), parse_instant(known_at, "known_at"))


@router.get("/cases/{case_id}/verify", responses=documented(401, 403, 404))
def verify(case_id: str, _who: Caller = Depends(AUDITOR), app: App = Depends(get_app)) -> JSONResponse:
    """The hash chain and replay-equals-store for one case; ``ok`` false lists every problem (still 200)."""
    return JSONResponse(_audit(app).verify(case_id).to_dict())


@router.get(
    "/cases/{case_id}/timeline",
    responses={
        **documented(401, 403, 404, 422),
        200: {"content": {"application/json": {}, "text/plain": {}, "text/html": {}}},
    },
)
def timeline(
    case_id: str,
    format: Literal["json", "text", "html"] = Query("json"),
    _who: Caller = Depends(AUDITOR),
    app: App = Depends(get_app),
) -> Response:
    """Every event with its deadlines opened, met (working days taken vs allowed) or breached."""
    view = _audit(app).timeline(case_id)
    if format == "html":
        headers = {"Content-Disposition": f'inline; filename="case-{case_id}.html"'}
        return HTMLResponse(timeline_html(view), headers=headers)
    if format == "text":
        return PlainTextResponse(timeline_text(view))
    return JSONResponse(view)


@router.get("/cases/{case_id}/what-if", responses=documented(401, 403, 404, 422))
def what_if(
    case_id: str,
    policy: str = Query(..., description="the other policy: ID or ID@VERSION"),
    until: str | None = Query(None, description="run the other policy's clocks to this instant"),
    _who: Caller = Depends(AUDITOR),
    app: App = Depends(get_app),
) -> dict[str, Any]:
    """The same client events under ``policy``: per event, where the outcome differs."""
    return _audit(app).what_if(case_id, policy, parse_instant(until, "until"))
