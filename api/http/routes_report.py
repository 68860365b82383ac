"""Reports over HTTP for the ``analyst`` role: TSM, monthly KPIs, the Code self-assessment of a policy.

JSON by default; ``?format=text|csv|md`` returns the same tables the CLI
prints. A policy that does not comply is a finding, not an error: the lint
answers 200 with ``"complies": false``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from api.report_format import FORMATS, render
from service.reports import ReportService

router = APIRouter(tags=["reports"])

ANALYST = require("analyst")
_MEDIA = {"text": "text/plain", "csv": "text/csv", "md": "text/markdown"}
_OK = {
    "description": "the report: JSON, or with ?format= the same tables as text, CSV or Markdown",
    "content": {"application/json": {}, **{media: {"schema": {"type": "string"}} for media in _MEDIA.values()}},
}
FORMAT_QUERY = Query("json", pattern="^(" + "|".join(FORMATS) + ")$", description="json, text, csv or md")


def _answer(report: dict[str, Any], fmt: str) -> Response:
    if fmt == "json":
        return JSONResponse(report)
    return PlainTextResponse(render(report, fmt), media_type=f"{_MEDIA[fmt]}; charset=utf-8")


def _reports(app: App) -> ReportService:
    return ReportService(app.engine, app.catalog)


@router.get(
    "/reports/tsm",
    responses={200: _OK, **documented(401, 403, 422)},
    summary="TSM CH01 and CH02 for a reporting year (1 April to 31 March)",
)
def tsm(
    year: int = Query(..., ge=2000, le=2200, description="the year the reporting year starts (2025: 2025/26)"),
    homes: int = Query(..., ge=1, description="relevant homes owned"),
    format: str = FORMAT_QUERY,
    _who: Caller = Depends(ANALYST),
    app: App = Depends(get_app),
) -> Response:
    return _answer(_reports(app).tsm(year, homes), format)


@router.get(
    "/reports/kpi",
    responses={200: _OK, **documented(401, 403, 404, 422)},
    summary="Monthly complaint KPIs, for every policy or one",
)
def kpi(
    month: str = Query(..., description="YYYY-MM"),
    policy: str | None = Query(None, description="ID or ID@VERSION"),
    format: str = FORMAT_QUERY,
    _who: Caller = Depends(ANALYST),
    app: App = Depends(get_app),
) -> Response:
    return _answer(_reports(app).kpi(month, policy), format)


@router.get(
    "/policies/{policy_id}/lint",
    responses={200: _OK, **documented(401, 403, 404, 422)},
    summary="The policy checked against the 2024 Code, provision by provision",
)
def policy_lint(
    policy_id: str,
    format: str = FORMAT_QUERY,
    _who: Caller = Depends(ANALYST),
    app: App = Depends(get_app),
) -> Response:
    return _answer(_reports(app).lint(policy_id).to_dict(), format)
