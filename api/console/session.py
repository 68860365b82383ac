"""Who is signed in to the console: the bearer token kept in an HttpOnly cookie, and CSRF tokens for forms.

The cookie holds the token itself (HttpOnly, SameSite=Strict, Secure when the
request came over HTTPS), so the console needs no session store of its own and
a revoked token stops working in the console exactly when it stops working on
the API: every request goes through the API's token lookup (api/http/deps.py).

CSRF: a signed-in form carries a value derived from the session's token, which
a page of another origin can neither read nor compute; the sign-in form (no
session yet) uses a random double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from api.http.deps import Caller, token_caller

SESSION_COOKIE = "cw_session"
SIGNIN_COOKIE = "cw_signin"
# Roles that may use the console at all, and what each page needs (admin may do everything).
CONSOLE_ROLES = ("analyst", "auditor")


class NotSignedIn(Exception):
    """No session, or its token is unknown or revoked: the page redirects to sign-in."""


class Forbidden(Exception):
    def __init__(self, who: Caller, needs: tuple[str, ...]) -> None:
        super().__init__(f"role {who.role} may not see this page (needs {' or '.join(needs)})")
        self.who, self.needs = who, needs


def may(who: Caller, *roles: str) -> bool:
    return who.role == "admin" or who.role in roles


async def signed_in(request: Request, *roles: str) -> Caller:
    """The caller of a console page; NotSignedIn or Forbidden otherwise."""
    token = request.cookies.get(SESSION_COOKIE, "")
    who = await token_caller(request.app.state.complaints, token) if token else None
    if who is None:
        raise NotSignedIn()
    request.state.who = who
    needs = roles or CONSOLE_ROLES
    if not may(who, *needs):
        raise Forbidden(who, needs)
    return who


def session_csrf(request: Request) -> str:
    """The CSRF value of the current session: a keyed hash of its token, never the token."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return hmac.new(token.encode("utf-8"), b"complaints-console-csrf", hashlib.sha256).hexdigest()


def signin_csrf(request: Request) -> tuple[str, bool]:
    """The sign-in form's double-submit value, and whether it still has to be set as a cookie."""
    existing = request.cookies.get(SIGNIN_COOKIE, "")
    if len(existing) == 43:
        return existing, False
    return secrets.token_urlsafe(32), True


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/ui", httponly=True, samesite="strict", secure=request.url.scheme == "https")
