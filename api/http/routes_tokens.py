"""Tokens over HTTP, for admins: make one (shown once). ``complaints token create`` does the same on the server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.bootstrap import App
from api.http.deps import ROLES, Caller, create_token, get_app, require
from api.http.errors import documented
from api.http.offload import write
from api.http.schemas import TokenIn, TokenOut
from workflow.errors import EventRefused

router = APIRouter(tags=["tokens"])
ADMIN = require("admin")


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenOut,
    responses=documented(401, 403, 422),
    summary="Create a bearer token (admin); the token is in this answer only",
)
async def make_token(body: TokenIn, _who: Caller = Depends(ADMIN), app: App = Depends(get_app)) -> dict[str, Any]:
    if body.role not in ROLES:
        raise EventRefused(["invalid_data"], {"role": f"{body.role!r} is not one of: {', '.join(ROLES)}"})
    token = await write(app, lambda: create_token(app.engine, body.name, body.role, app.clock.now()))
    return {"name": body.name, "role": body.role, "token": token}
