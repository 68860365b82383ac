"""Diagrams over HTTP for analysts: a policy (SVG, Mermaid), a case's path, and the process map.

SVGs are drawn by Graphviz's ``dot`` and cached by their DOT source
(``api.render``), so a policy version's diagram is drawn once per process.
Without Graphviz the SVG routes answer 503 ``graphviz_missing`` with the
install hint; the Mermaid route still works.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented, error_body
from api.http.schemas import POLICY_REF
from api.render import GraphvizFailed, GraphvizMissing, render
from service.flow import process_flow
from workflow.diagrams import Diagram, policy_diagram
from workflow.diagrams.dot import to_dot
from workflow.diagrams.mermaid import to_mermaid
from workflow.diagrams.overlays import case_diagram
from workflow.errors import UnknownPolicy
from workflow.policy import Policy

router = APIRouter(tags=["diagrams"])
ANALYST = require("analyst")


class SVGResponse(Response):
    media_type = "image/svg+xml"


class MermaidResponse(Response):
    media_type = "text/plain; charset=utf-8"


_ERRORS = documented(401, 403, 404, 422)
_SVG_ERRORS = {
    **_ERRORS,
    503: {**documented(503)[503], "description": "Graphviz's dot is not installed (graphviz_missing)"},
}
_SVG_OK = {200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "an SVG drawing"}}
_MMD_OK = {200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Mermaid flowchart text"}}


def _policy(app: App, policy_id: str, version: int | None) -> Policy:
    ref = f"{policy_id}@{version}" if version is not None and "@" not in policy_id else policy_id
    if not re.fullmatch(POLICY_REF, ref):
        raise UnknownPolicy(f"unknown policy {ref!r}; GET /policies lists them")
    return app.catalog.resolve(ref)


def _svg(diagram: Diagram) -> Response:
    try:
        return SVGResponse(render(to_dot(diagram), "svg"))
    except (GraphvizMissing, GraphvizFailed) as err:
        return JSONResponse(error_body(err.code, err.reasons, err.detail), status_code=503)


@router.get(
    "/policies/{policy_id}/diagram.svg",
    response_class=SVGResponse,
    responses={**_SVG_OK, **_SVG_ERRORS},
    summary="A policy's state diagram (newest version, or ?version=N, or id@N)",
)
def policy_svg(
    policy_id: str,
    version: int | None = Query(None, ge=1, le=1_000_000),
    _who: Caller = Depends(ANALYST),
    app: App = Depends(get_app),
) -> Response:
    return _svg(policy_diagram(_policy(app, policy_id, version)))


@router.get(
    "/policies/{policy_id}/diagram.mmd",
    response_class=MermaidResponse,
    responses={**_MMD_OK, **_ERRORS},
    summary="A policy's state diagram as Mermaid text",
)
def policy_mermaid(
    policy_id: str,
    version: int | None = Query(None, ge=1, le=1_000_000),
    _who: Caller = Depends(ANALYST),
    app: App = Depends(get_app),
) -> Response:
    return MermaidResponse(to_mermaid(policy_diagram(_policy(app, policy_id, version))))


@router.get(
    "/cases/{case_id}/diagram.svg",
    response_class=SVGResponse,
    responses={**_SVG_OK, **_SVG_ERRORS},
    summary="A case's path over its policy's diagram: numbered steps, breaches, current state",
)
def case_svg(case_id: str, _who: Caller = Depends(ANALYST), app: App = Depends(get_app)) -> Response:
    case = app.service.load(case_id)
    records = app.service.history(case_id)
    return _svg(case_diagram(app.catalog.get(case.policy_id, case.policy_version), case, records))


@router.get(
    "/reports/flow.svg",
    response_class=SVGResponse,
    responses={**_SVG_OK, **_SVG_ERRORS},
    summary="Process map of stored histories: transitions with counts, median working days, breaches",
)
def flow_svg(
    policy: str = Query(..., pattern=POLICY_REF, description="policy id (all versions) or id@version"),
    since: date | None = Query(None, description="cases received on or after this date"),
    until: date | None = Query(None, description="cases received on or before this date"),
    _who: Caller = Depends(ANALYST),
    app: App = Depends(get_app),
) -> Response:
    return _svg(process_flow(app.service.uow, app.catalog, policy, since, until).diagram())
