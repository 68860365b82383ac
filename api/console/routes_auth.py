"""Sign in (paste a bearer token once) and sign out: the only console forms that write (a cookie, nothing else)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.console.session import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    clear_cookie,
    may,
    same,
    session_csrf,
    set_cookie,
    signin_csrf,
)
from api.console.web import ConsoleRoute, error_page, page, with_headers
from api.http.deps import token_caller

router = APIRouter(route_class=ConsoleRoute)
SESSION_SECONDS = 8 * 3600  # a working day; the token itself stays valid until revoked


def _next(target: str | None) -> str:
    """Only a console path is followed after sign-in (never another site)."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/work"


async def form(request: Request) -> dict[str, str]:
    body = (await request.body())[:20_000].decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _signin_page(request: Request, status: int = 200, error: str = "", target: str = "") -> Response:
    value, fresh = signin_csrf(request)
    response = page(request, "signin.html", None, status=status, signin_csrf=value, error=error, next=target)
    if fresh:
        set_cookie(request, response, SIGNIN_COOKIE, value, max_age=3600)
    return response


@router.get("/ui", include_in_schema=False)
@router.get("/ui/", include_in_schema=False)
async def home() -> Response:
    return with_headers(RedirectResponse("/ui/work", status_code=303))


@router.get("/ui/signin", include_in_schema=False)
async def signin_form(request: Request, next: str = "") -> Response:
    return _signin_page(request, target=_next(next))


@router.post("/ui/signin", include_in_schema=False)
async def signin(request: Request) -> Response:
    fields = await form(request)
    target = _next(fields.get("next"))
    if not same(fields.get("csrf", ""), request.cookies.get(SIGNIN_COOKIE, "")):
        return _signin_page(request, 403, "The form expired; sign in again.", target)
    token = fields.get("token", "").strip()
    who = await token_caller(request.app.state.complaints, token) if token else None
    if who is None:
        return _signin_page(request, 401, "Unknown or revoked token.", target)
    response = RedirectResponse(target if may(who, "analyst", "auditor") else "/ui/work", status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=SESSION_SECONDS)
    clear_cookie(request, response, SIGNIN_COOKIE)
    return with_headers(response)


@router.post("/ui/signout", include_in_schema=False)
async def signout(request: Request) -> Response:
    fields = await form(request)
    if request.cookies.get(SESSION_COOKIE) and not same(fields.get("csrf", ""), session_csrf(request)):
        return error_page(request, 403, "Sign-out refused", "the form did not come from this console; try again")
    response = RedirectResponse("/ui/signin", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return with_headers(response)
