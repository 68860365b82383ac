"""What every route depends on: the wired App, and the caller's token and role.

Tokens are random strings shown once; only their SHA-256 is stored
(``api_tokens``). Roles: automation, analyst, auditor, admin (admin may do
everything).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from api.bootstrap import App
from storage.tables import api_tokens

ROLES = ("automation", "analyst", "auditor", "admin")


class AuthError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: Engine, name: str, role: str, now: datetime) -> str:
    """Store a new token's hash and return the token itself (the only time it is seen)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    token = "cw_" + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(api_tokens).values(name=name, role=role, token_hash=hash_token(token), created_at=now)
        )
    return token


def get_app(request: Request) -> App:
    return request.app.state.complaints


def caller(request: Request, app: App = Depends(get_app)) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "unauthorized", "send Authorization: Bearer <token> (complaints token create)")
    with app.engine.connect() as connection:
        row = connection.execute(
            sa.select(api_tokens.c.name, api_tokens.c.role).where(
                api_tokens.c.token_hash == hash_token(token.strip()), api_tokens.c.revoked == sa.false()
            )
        ).first()
    if row is None:
        raise AuthError(401, "unauthorized", "unknown or revoked token")
    return Caller(row.name, row.role)


def require(*roles: str) -> Callable[..., Caller]:
    """A dependency admitting the given roles (and admin)."""

    def check(who: Caller = Depends(caller)) -> Caller:
        if who.role != "admin" and who.role not in roles:
            raise AuthError(403, "forbidden", f"role {who.role} may not do this (needs {' or '.join(roles)})")
        return who

    return check
