"""Policies: every version; one version's diagram, its rules with their seed lines, its Code self-assessment.

The self-assessment is ``ReportService.lint`` (as ``GET /policies/{id}/lint``
and ``complaints policy lint``), its table ``report_format.lint_tables``.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from api.console.policy_rules import rules_of
from api.console.session import signed_in
from api.console.web import ConsoleRoute, page
from api.http.routes_diagram import _policy
from api.report_format import lint_tables
from service.reports import ReportService
from workflow.errors import UnknownPolicy

router = APIRouter(route_class=ConsoleRoute)


@router.get("/ui/policies", include_in_schema=False)
async def policies(request: Request) -> Response:
    who = await signed_in(request, "analyst")
    catalog = request.app.state.complaints.catalog
    rows = [(p, p.version == catalog.versions(p.id)[-1]) for p in catalog.all()]
    return page(request, "policies.html", who, policies=rows)


@router.get("/ui/policies/{policy_id}/{version}", include_in_schema=False)
async def policy(request: Request, policy_id: str, version: str) -> Response:
    who = await signed_in(request, "analyst")
    app = request.app.state.complaints
    if not version.isdigit() or len(version) > 7:
        raise UnknownPolicy(f"unknown policy {policy_id}@{version}; the Policies page lists them")
    chosen = _policy(app, policy_id, int(version))
    assessment = ReportService(app.engine, app.catalog).lint(chosen.ref).to_dict()
    return page(
        request,
        "policy.html",
        who,
        policy=chosen,
        versions=app.catalog.versions(chosen.id),
        rules=rules_of(chosen.path),
        assessment=assessment,
        lint=lint_tables(assessment)[0],
    )
