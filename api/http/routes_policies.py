"""Policies over HTTP: which ones exist, and one policy's rules (the same view as ``complaints policy show``)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query

from api.bootstrap import App
from api.cli_core import policy_dict
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from api.http.schemas import POLICY_REF, PolicySummary
from workflow.errors import UnknownPolicy

router = APIRouter(tags=["policies"])

READER = require("automation", "analyst", "auditor")


@router.get(
    "/policies",
    response_model=list[PolicySummary],
    responses=documented(401, 403),
    summary="Every policy and version",
)
async def list_policies(_who: Caller = Depends(READER), app: App = Depends(get_app)) -> list[dict[str, Any]]:
    out = []
    for policy in app.catalog.all():
        effective = policy.effective_from.isoformat() if policy.effective_from else None
        newest = policy.version == app.catalog.versions(policy.id)[-1]
        out.append(
            {
                "id": policy.id,
                "version": policy.version,
                "name": policy.name,
                "effective_from": effective,
                "newest": newest,
            }
        )
    return out


@router.get(
    "/policies/{policy_id}",
    response_model=dict[str, Any],
    responses=documented(401, 403, 404, 422),
    summary="One policy's rules: the newest version, or ?version=N (or id@N)",
)
async def get_policy(
    policy_id: str,
    version: int | None = Query(None, ge=1, le=1_000_000),
    _who: Caller = Depends(READER),
    app: App = Depends(get_app),
) -> dict[str, Any]:
    ref = f"{policy_id}@{version}" if version is not None and "@" not in policy_id else policy_id
    if not re.fullmatch(POLICY_REF, ref):
        raise UnknownPolicy(f"unknown policy {ref!r}; GET /policies lists them")
    return policy_dict(app.catalog.resolve(ref))
