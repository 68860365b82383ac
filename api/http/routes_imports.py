"""``POST /imports`` (admin) and ``GET /reports/event-log`` (analyst, auditor): moving in and out over HTTP.

The import takes the file as the request body (CSV with a header, or JSON
Lines) with the same semantics as ``complaints import``: a file that cannot be
imported is 422 naming the line and column, and nothing is written; rejected
cases are listed in the answer. The event log streams its chunks as they are
written (docs/process-mining.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from service.event_log import FORMATS, MEDIA, export, log_filter
from service.import_rows import read_rows, text_lines
from service.importer import Importer

router = APIRouter(tags=["moving in and out"])

ADMIN = require("admin")
MINERS = require("analyst", "auditor")
_EXTENSION = {"xes": "xes", "ocel": "jsonocel", "csv": "csv"}


@router.post(
    "/imports",
    responses=documented(401, 403, 404, 422),
    summary="Import cases with their history from a CSV or JSON Lines body (docs/moving-in.md)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {m: {"schema": {"type": "string"}} for m in ("text/csv", "application/x-ndjson")},
        }
    },
)
async def post_import(
    request: Request,
    format: str = Query(..., pattern="^(csv|jsonl)$", description="csv (with a header) or jsonl"),
    policy: str | None = Query(None, description="ID or ID@VERSION for rows naming none"),
    dry_run: bool = Query(False, description="write nothing; answer what would happen"),
    _who: Caller = Depends(ADMIN),
    app: App = Depends(get_app),
) -> dict[str, Any]:
    body = await request.body()

    def work() -> dict[str, Any]:
        rows = list(read_rows(text_lines(body), format, app.catalog, policy))
        return Importer(app.service).run(rows, dry_run).to_dict()

    # long work, on the thread pool on both backends: each batch's unit of work takes the SQLite writer lock
    # itself (storage/write_lock.py), so timers and other writers get their turn between batches
    return await run_in_threadpool(work)


@router.get(
    "/reports/event-log",
    responses={
        200: {
            "description": "the event log (OCEL 2.0 is a JSON document; XES and CSV are text)",
            "content": {m: {"schema": {"type": "object" if m.endswith("json") else "string"}} for m in MEDIA.values()},
        },
        **documented(401, 403, 404, 422),
    },
    summary="The event log for process mining: XES, OCEL 2.0 JSON or flat CSV, streamed",
)
def event_log(
    format: str = Query("xes", pattern="^(" + "|".join(FORMATS) + ")$", description="xes, ocel or csv"),
    policy: str | None = Query(None, description="ID (every version) or ID@VERSION"),
    since: str | None = Query(None, description="events on or after this local date (YYYY-MM-DD)"),
    until: str | None = Query(None, description="events on or before this local date (YYYY-MM-DD)"),
    _who: Caller = Depends(MINERS),
    app: App = Depends(get_app),
) -> StreamingResponse:
    which = log_filter(app.catalog, policy, since, until)  # a bad policy or date fails here, before the stream starts
    name = f"event-log.{_EXTENSION[format]}"
    return StreamingResponse(
        export(app.service.uow, format, which),
        media_type=f"{MEDIA[format]}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
