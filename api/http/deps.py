"""What every route depends on: the wired App, and the caller's token and role.

Tokens are random strings shown once; only their SHA-256 is stored
(``api_tokens``). Roles: automation, analyst, auditor, admin (admin may do
everything).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from api.bootstrap import App
from api.tokens import ROLES, TOKEN_NAME, create_token, hash_token, list_tokens, revoke_token
from storage.tables import api_tokens

# Re-exported: the routes, tests and benchmarks import the token functions from here too.
__all__ = ["ROLES", "TOKEN_NAME", "create_token", "hash_token", "list_tokens", "revoke_token"]


class AuthError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


async def get_app(request: Request) -> App:
    return request.app.state.complaints


# Declares the bearer scheme in the OpenAPI document (the "Authorize" button of /docs); we answer 401 ourselves.
bearer = HTTPBearer(auto_error=False, description="a token from `complaints token create --role ROLE --name NAME`")

# Known tokens are remembered for a few seconds (a revocation takes effect within TOKEN_CACHE_SECONDS), so a
# request costs no token query; an unknown token is looked up every time.
TOKEN_CACHE_SECONDS = 5.0
_known: dict[tuple[int, str], tuple[Caller, float]] = {}


def _lookup(engine: Engine, token_hash: str) -> Caller | None:
    with engine.connect().execution_options(complaints_write=False) as connection:
        row = connection.execute(
            sa.select(api_tokens.c.name, api_tokens.c.role).where(
                api_tokens.c.token_hash == token_hash, api_tokens.c.revoked == sa.false()
            )
        ).first()
    return Caller(row.name, row.role) if row is not None else None


async def token_caller(app: App, token: str) -> Caller | None:
    """Who a bearer token is (None: unknown or revoked); the API and the console's session cookie share it."""
    key = (id(app.engine), hash_token(token))
    now = time.monotonic()
    known = _known.get(key)
    if known is not None and known[1] > now:
        return known[0]
    who = await run_in_threadpool(_lookup, app.engine, key[1])
    if who is None:
        _known.pop(key, None)
        return None
    if len(_known) > 10_000:
        _known.clear()
    _known[key] = (who, now + TOKEN_CACHE_SECONDS)
    return who


async def caller(
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer), app: App = Depends(get_app)
) -> Caller:
    return await _authenticate(credentials, app)


async def _authenticate(credentials: HTTPAuthorizationCredentials | None, app: App) -> Caller:
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise AuthError(401, "unauthorized", "send Authorization: Bearer <token> (complaints token create)")
    who = await token_caller(app, token)
    if who is None:
        raise AuthError(401, "unauthorized", "unknown or revoked token")
    return who


def require(*roles: str) -> Callable[..., Caller]:
    """A dependency admitting the given roles (and admin).

    One dependency over the bearer scheme, not one over ``caller`` over ``get_app``: FastAPI solves every level
    of the tree on every request, and this is on every request.
    """

    async def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
        who = await _authenticate(credentials, request.app.state.complaints)
        if who.role != "admin" and who.role not in roles:
            raise AuthError(403, "forbidden", f"role {who.role} may not do this (needs {' or '.join(roles)})")
        return who

    return check
