"""Cases: the list with the filters of ``GET /cases``, one case, and its path on the policy diagram.

Every figure comes from the same service calls as the API: ``find_cases``,
``get_case``, ``allowed``, ``AuditService.timeline/replay`` and
``case_diagram`` (api/http/routes_cases.py, routes_audit.py, routes_diagram.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.bootstrap import App
from api.console.forms import PAGE_SIZES, Filters
from api.console.session import may, signed_in
from api.console.web import ConsoleRoute, page, with_headers
from api.http.offload import off_loop
from api.http.routes_cases import _case_id
from service.audit import AuditService
from service.audit.render import _change_words as change_words
from storage.queries import CaseQuery
from workflow.calendar import local_date
from workflow.vocabulary import STATES

router = APIRouter(route_class=ConsoleRoute)
FILTERS = ("state", "policy", "breached", "opened_from", "opened_before", "limit")


def _app(request: Request) -> App:
    return request.app.state.complaints


@router.get("/ui/cases", include_in_schema=False)
async def cases(request: Request) -> Response:
    who = await signed_in(request)
    app = _app(request)
    form = Filters({k: request.query_params.get(k, "") for k in (*FILTERS, "offset")})
    policy_id, version = form.policy("policy", app.catalog)
    query = CaseQuery(
        state=form.choice("state", STATES),
        policy_id=policy_id,
        policy_version=version,
        breached=form.boolean("breached"),
        opened_from=form.instant("opened_from"),
        opened_to=form.instant("opened_before"),
    )
    limit = form.whole("limit", 50, 1, 500)
    offset = form.whole("offset", 0, 0, 1_000_000_000)
    found = None
    if not form.errors:
        found = await off_loop(app, lambda: app.service.find_cases(query, limit, offset))
    kept = {k: v for k, v in form.values.items() if v and k != "offset" and k not in form.errors}

    def link(at: int) -> str:
        return "/ui/cases?" + urlencode({**kept, "offset": at})

    status = 422 if form.errors else 200
    return page(
        request,
        "cases.html",
        who,
        status=status,
        form=form,
        found=found,
        limit=limit,
        offset=offset,
        state_options=[(s, s) for s in STATES],
        policy_options=policy_options(app),
        page_size_options=[(str(n), str(n)) for n in PAGE_SIZES],
        previous=link(max(0, offset - limit)) if found and offset > 0 else None,
        following=link(offset + limit) if found and offset + limit < found.total else None,
    )


@router.get("/ui/find", include_in_schema=False)
async def find(request: Request, id: str = "") -> Response:
    """The search by id: straight to the case (an unknown id is that page's 404)."""
    await signed_in(request)
    return with_headers(RedirectResponse(f"/ui/cases/{quote(id.strip() or '-', safe='')}", status_code=303))


def policy_options(app: App) -> list[tuple[str, str]]:
    """Each policy (every version) and each version by itself, as the API's ``policy`` filter takes them."""
    out: list[tuple[str, str]] = []
    for policy in app.catalog.all():
        if policy.version == app.catalog.versions(policy.id)[0]:
            out.append((policy.id, f"{policy.id} (every version)"))
        out.append((policy.ref, f"{policy.ref}: {policy.name}"))
    return out


def _days_left(app: App, view: dict[str, Any]) -> list[dict[str, Any]]:
    calendar = app.catalog.get(view["policy"], view["policy_version"]).calendar
    today = local_date(app.clock.now())
    out = []
    for d in view["deadlines"]:
        due = date.fromisoformat(d["due"])
        left = calendar.working_days_between(today, due) if due >= today else -calendar.working_days_between(due, today)
        out.append({**d, "working_days_left": left})
    return out


@router.get("/ui/cases/{case_id}", include_in_schema=False)
async def case(request: Request, case_id: str) -> Response:
    who = await signed_in(request)
    app = _app(request)
    case_id = _case_id(case_id)
    view = await off_loop(app, lambda: app.service.get_case(case_id))
    allowed = await off_loop(app, lambda: app.service.allowed(case_id))
    context: dict[str, Any] = {"case": view, "deadlines": _days_left(app, view), "allowed": allowed}
    if may(who, "auditor"):
        audit = AuditService(app.engine, app.catalog)
        context["timeline"] = await off_loop(app, lambda: audit.timeline(case_id))
        context["change_words"] = change_words
        form = Filters({k: request.query_params.get(k, "") for k in ("as_of", "known_at")})
        context["replay_form"] = form
        moments = form.instant("as_of"), form.instant("known_at")
        if not form.errors and any(moments):
            context["replay"] = await off_loop(app, lambda: audit.replay(case_id, *moments))
        context["replay_errors"] = form.errors
    return page(request, "case.html", who, status=422 if context.get("replay_errors") else 200, **context)
