"""``GET /feed``: the store's events and due-soon reminders as CloudEvents, in order, from a cursor.

For back-office systems (roles automation, analyst, auditor). Follow it by giving back ``next_cursor``
as ``after``; an empty page means nothing new yet (poll again). service/feed.py, storage/feed_queries.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from service.feed import MAX_LIMIT, Feed

router = APIRouter(tags=["feed"])
READER = require("automation", "analyst", "auditor")


@router.get(
    "/feed",
    responses=documented(401, 403, 422),
    summary="Every applied event (and due-soon reminder) in commit order, as CloudEvents, after a cursor",
)
def feed(
    after: str | None = Query(None, description="a cursor the feed returned (an entry's or next_cursor); none: start"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT, description=f"at most this many entries (1..{MAX_LIMIT})"),
    _who: Caller = Depends(READER),
    app: App = Depends(get_app),
) -> dict[str, Any]:
    return Feed(app.engine).page(after, limit).as_dict()
