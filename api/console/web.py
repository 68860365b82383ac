"""The console's plumbing: Jinja2 templates, London dates, security headers, and HTML error pages.

Every console route uses ``ConsoleRoute``: whatever a page raises becomes a
page, never the API's JSON error body: no session -> redirect to sign-in, a
role that may not see it -> 403 page, an unknown case or policy -> 404 page
with a way back, any other bad input -> 422 page saying what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.console.session import Forbidden, NotSignedIn, may, session_csrf
from api.http.deps import Caller
from storage.database import DatabaseUnavailable
from workflow.calendar import LONDON
from workflow.errors import CaseNotFound, ComplaintsError, UnknownPolicy

HERE = Path(__file__).parent
log = structlog.get_logger("console")

# No inline script or style anywhere: scripts and styles come from /ui/static only (there is no script at all).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def london(text: str | datetime | None) -> str:
    """An instant as read in England, with the weekday and the zone: ``Thu 03 Dec 2026 07:00 GMT``."""
    if not text:
        return "-"
    instant = datetime.fromisoformat(text) if isinstance(text, str) else text
    return instant.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z")


def day(text: str | date | None) -> str:
    """A date with its weekday: ``Thu 03 Dec 2026``."""
    if not text:
        return "-"
    value = date.fromisoformat(text) if isinstance(text, str) else text
    return value.strftime("%a %d %b %Y")


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["london"] = london
templates.filters["day"] = day
templates.filters["q"] = lambda v: quote(str(v), safe="")


def page(request: Request, name: str, who: Caller | None, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(
        request=request,
        who=who,
        may=(lambda *roles: who is not None and may(who, *roles)),
        csrf=session_csrf(request) if who is not None else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, status: int, title: str, detail: str, who: Caller | None = None) -> HTMLResponse:
    return page(request, "error.html", who, status=status, title=title, detail=detail)


class ConsoleRoute(APIRoute):
    """Turns what a console page raises into a page (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except NotSignedIn:
                back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/ui/signin?next={quote(back, safe='')}", status_code=303)
            except Forbidden as err:
                return error_page(request, 403, "Not for your role", str(err), err.who)
            except (CaseNotFound, UnknownPolicy) as err:
                return error_page(request, 404, "Not found", str(err), getattr(request.state, "who", None))
            except DatabaseUnavailable as err:
                log.warning("console_database_unavailable", error=str(err))
                return error_page(request, 503, "Database unavailable", "the store does not answer; try again")
            except ComplaintsError as err:
                return error_page(request, 422, "Cannot show this", str(err), getattr(request.state, "who", None))

        return run


def with_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
