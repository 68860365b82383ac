"""The SVG drawings a console page shows as images: a case's path, a policy version, the process map.

The same drawings as the API's (api/http/routes_diagram.py: Graphviz, cached by
DOT source), behind the console's session instead of a bearer header. They are
served as images (``<img>``), so nothing in them can run in the page.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from api.console.forms import Filters
from api.console.session import signed_in
from api.console.web import ConsoleRoute, with_headers
from api.http.offload import off_loop
from api.http.routes_cases import _case_id
from api.http.routes_diagram import _policy, _svg
from service.flow import tally
from workflow.diagrams import policy_diagram
from workflow.diagrams.overlays import case_diagram
from workflow.errors import UnknownPolicy

router = APIRouter(route_class=ConsoleRoute)


@router.get("/ui/cases/{case_id}/diagram.svg", include_in_schema=False)
async def case_svg(request: Request, case_id: str) -> Response:
    await signed_in(request)
    app = request.app.state.complaints
    case_id = _case_id(case_id)

    def draw() -> Response:
        case = app.service.load(case_id)
        records = app.service.history(case_id)
        return _svg(case_diagram(app.catalog.get(case.policy_id, case.policy_version), case, records))

    return with_headers(await off_loop(app, draw))


@router.get("/ui/policies/{policy_id}/{version}/diagram.svg", include_in_schema=False)
async def policy_svg(request: Request, policy_id: str, version: str) -> Response:
    await signed_in(request, "analyst")
    app = request.app.state.complaints
    if not version.isdigit() or len(version) > 7:
        raise UnknownPolicy(f"unknown policy {policy_id}@{version}")
    policy = _policy(app, policy_id, int(version))
    return with_headers(await off_loop(app, lambda: _svg(policy_diagram(policy))))


@router.get("/ui/reports/flow.svg", include_in_schema=False)
async def flow_svg(request: Request) -> Response:
    await signed_in(request, "analyst")
    app = request.app.state.complaints
    form = Filters({k: request.query_params.get(k, "") for k in ("policy", "since", "until")})
    policy = form.text("policy") or "b3living"
    since, until = form.day("since"), form.day("until")
    if form.errors:
        raise UnknownPolicy("; ".join(f"{k}: {v}" for k, v in form.errors.items()))

    def draw() -> Response:  # the map's counts kept, and brought up to date after a write (service/flow.py)
        cache = request.app.state.console_cache
        counted = cache.get(
            ("flow", policy, since, until),
            lambda: tally(app.engine, app.catalog, policy, since, until),
            update=lambda kept: kept.updated(app.engine, app.catalog),  # only the events committed since
        )
        return _svg(counted.flow().diagram())

    return with_headers(await off_loop(app, draw))
