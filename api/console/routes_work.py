"""The Work page: what the team owes, in due order, overdue first: the work list of ``GET /work``.

The rows and their working days left are ``ComplaintService.work``'s
(service/work.py), the call ``GET /work`` and ``complaints work`` make, so the
page can never disagree with them; nothing here queries the store itself.
The page is kept in the console's cache (service/store_cache.py) until an
event is committed or the London date changes, the two things it depends on.
Each filter is checked by the service's own rules (``work_filter``) one field
at a time, so a form with two bad fields names both, with the API's reasons,
and nothing is queried until every field reads.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from api.bootstrap import App
from api.console.forms import PAGE_SIZES, Filters
from api.console.routes_cases import policy_options
from api.console.session import signed_in
from api.console.web import ConsoleRoute, page
from api.http.offload import off_loop
from service.work import MAX_LIMIT, MAX_OFFSET, InvalidWorkQuery, WorkPage, WorkQuery, parse_date, work_filter
from workflow.calendar import local_date
from workflow.vocabulary import STATES
from workflow.worklist import OBLIGATIONS

router = APIRouter(route_class=ConsoleRoute)
FILTERS = ("policy", "kind", "handler", "state", "due_before", "limit")


def work_query(form: Filters, app: App) -> WorkQuery:
    """The query the form asks for; every bad field lands in ``form.errors`` with the service's reason."""
    fields = {name: form.text(name) for name in ("policy", "kind", "handler", "state")}
    for name, value in fields.items():
        if value is None:
            continue
        try:
            work_filter(WorkQuery(**{name: value}), app.catalog)  # type: ignore[arg-type]
        except InvalidWorkQuery as err:
            form.errors.update(err.details)
    due_before = None
    try:
        due_before = parse_date("due_before", form.text("due_before"))
    except InvalidWorkQuery as err:
        form.errors.update(err.details)
    limit = form.whole("limit", 50, 1, MAX_LIMIT)
    offset = form.whole("offset", 0, 0, MAX_OFFSET)
    return WorkQuery(due_before, limit=limit, offset=offset, **fields)  # type: ignore[arg-type]


def _work(request: Request, app: App, query: WorkQuery) -> WorkPage:
    """``ComplaintService.work``, kept until an event is committed or London's date changes (the days left)."""
    today = local_date(app.clock.now())
    return request.app.state.console_cache.get(("work", query, today), lambda: app.service.work(query))


@router.get("/ui/work", include_in_schema=False)
async def work(request: Request) -> Response:
    who = await signed_in(request)
    app: App = request.app.state.complaints
    form = Filters({k: request.query_params.get(k, "") for k in (*FILTERS, "offset")})
    query = work_query(form, app)
    found = None if form.errors else await off_loop(app, lambda: _work(request, app, query))
    kept = {k: v for k, v in form.values.items() if v and k != "offset" and k not in form.errors}

    def link(at: int) -> str:
        return "/ui/work?" + urlencode({**kept, "offset": at})

    return page(
        request,
        "work.html",
        who,
        status=422 if form.errors else 200,
        form=form,
        found=found,
        policy_options=policy_options(app),
        kind_options=[(k, k) for k in OBLIGATIONS],
        state_options=[(s, s) for s in STATES],
        page_size_options=[(str(n), str(n)) for n in PAGE_SIZES],
        previous=link(max(0, query.offset - query.limit)) if found and query.offset > 0 else None,
        following=link(found.next_offset) if found and found.next_offset is not None else None,
    )
