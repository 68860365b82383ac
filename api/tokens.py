"""Bearer tokens in the store: make, list, revoke, hash. No web framework here, so the CLI starts fast.

The HTTP layer (api/http/deps.py) checks requests against the same table and re-exports these names.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.tables import api_tokens
from storage.write_lock import write_transaction

ROLES = ("automation", "analyst", "auditor", "admin")
# A token's name is the actor recorded on every event it fires: short, printable, no leading blank.
TOKEN_NAME = r"^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,127}$"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(engine: Engine, name: str, role: str, now: datetime) -> str:
    """Store a new token's hash and return the token itself (the only time it is seen)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    if not re.fullmatch(TOKEN_NAME, name):
        raise ValueError(f"bad token name {name!r}: letters, digits, space and ._@:- (at most 128, no leading blank)")
    token = "cw_" + secrets.token_urlsafe(32)
    with write_transaction(engine) as connection:
        connection.execute(
            sa.insert(api_tokens).values(name=name, role=role, token_hash=hash_token(token), created_at=now)
        )
    return token


def list_tokens(engine: Engine) -> list[dict[str, object]]:
    """Every token ever made (never the token itself): id, name, role, created_at, revoked."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                api_tokens.c.id, api_tokens.c.name, api_tokens.c.role, api_tokens.c.created_at, api_tokens.c.revoked
            ).order_by(api_tokens.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def revoke_token(engine: Engine, token_id: int) -> bool:
    """Revoke one token by id; False when there is no such token."""
    with write_transaction(engine) as connection:
        result = connection.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id).values(revoked=True))
    return result.rowcount == 1
