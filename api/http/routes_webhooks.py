"""Webhook subscriptions and their delivery log over HTTP, for admins (service/webhooks.py).

``POST /webhooks`` answers the subscription with its ``secret``: the only time it is shown.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from api.http.offload import off_loop, write
from service.webhooks import Webhooks

router = APIRouter(tags=["webhooks"])
ADMIN = require("admin")
DELIVERY_ID = Path(..., ge=1, le=2**63 - 1, description="a delivery's id (the delivery log's \"id\")")


class WebhookIn(BaseModel):
    url: str = Field(..., max_length=2000, description="where entries are POSTed (http or https)")
    types: list[str] | None = Field(
        None, description="CloudEvents types (uk.complaints.deadline_passed) or event names; none: every type"
    )
    after: str | None = Field(None, description="a feed cursor to start after; default: entries from now on")


def _hooks(app: App) -> Webhooks:
    return Webhooks(app.engine, app.clock)


@router.post("/webhooks", status_code=201, responses=documented(401, 403, 422), summary="Subscribe a webhook (admin)")
async def add(body: WebhookIn, _who: Caller = Depends(ADMIN), app: App = Depends(get_app)) -> dict[str, Any]:
    return await write(app, lambda: _hooks(app).add(body.url, body.types, body.after))


@router.get("/webhooks", responses=documented(401, 403), summary="Every subscription and its status (admin)")
async def listing(_who: Caller = Depends(ADMIN), app: App = Depends(get_app)) -> list[dict[str, Any]]:
    return await off_loop(app, lambda: _hooks(app).list())


@router.delete("/webhooks/{subscription_id}", status_code=204, responses=documented(401, 403, 404))
async def remove(subscription_id: str, _who: Caller = Depends(ADMIN), app: App = Depends(get_app)) -> None:
    await write(app, lambda: _hooks(app).remove(subscription_id))


@router.get(
    "/webhooks/{subscription_id}/deliveries",
    responses=documented(401, 403, 404, 422),
    summary="A subscription's deliveries, newest first: status, attempts, last status code (admin)",
)
async def deliveries(
    subscription_id: str,
    limit: int = Query(50, ge=1, le=1000),
    status: str | None = Query(None, pattern="^(pending|sending|delivered|failed)$"),
    _who: Caller = Depends(ADMIN),
    app: App = Depends(get_app),
) -> list[dict[str, Any]]:
    return await off_loop(app, lambda: _hooks(app).deliveries(subscription_id, limit, status))


@router.get(
    "/webhooks/deliveries/{delivery_id}", responses=documented(401, 403, 404, 422), summary="One delivery's log"
)
async def delivery(
    delivery_id: int = DELIVERY_ID, _who: Caller = Depends(ADMIN), app: App = Depends(get_app)
) -> dict[str, Any]:
    return await off_loop(app, lambda: _hooks(app).delivery(delivery_id))


@router.post(
    "/webhooks/deliveries/{delivery_id}/redeliver",
    responses=documented(401, 403, 404, 422),
    summary="Send a delivery again now, with a fresh round of retries (admin)",
)
async def redeliver(
    delivery_id: int = DELIVERY_ID, _who: Caller = Depends(ADMIN), app: App = Depends(get_app)
) -> dict[str, Any]:
    return await write(app, lambda: _hooks(app).redeliver(delivery_id))
