"""``GET /feed``: the store's events and due-soon reminders as CloudEvents, in order, from a cursor.

For back-office systems (roles automation, analyst, auditor). Follow it by giving back ``next_cursor``
as ``after``; an empty page means nothing new yet (poll again). service/feed.py, storage/feed_queries.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from service.feed import MAX_LIMIT, Feed

router = APIRouter(tags=["feed"])
READER = require("automation", "analyst", "auditor")
_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["entries", "next_cursor"],
    "properties": {
        "entries": {"type": "array", "items": {"type": "object", "description": "a CloudEvents 1.0 envelope"}},
        "next_cursor": {"type": "string", "description": "give it back as after for the next page"},
    },
}


@router.get(
    "/feed",
    response_class=Response,  # the page's JSON text as service/feed.py makes it (the database wrote each entry)
    responses={
        200: {"description": "a page of the feed", "content": {"application/json": {"schema": _PAGE}}},
        **documented(401, 403, 422),
    },  # fmt: skip
    summary="Every applied event (and due-soon reminder) in commit order, as CloudEvents, after a cursor",
)
def feed(
    after: str | None = Query(None, description="a cursor the feed returned (an entry's or next_cursor); none: start"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT, description=f"at most this many entries (1..{MAX_LIMIT})"),
    _who: Caller = Depends(READER),
    app: App = Depends(get_app),
) -> Response:
    return Response(Feed(app.engine).page(after, limit).json(), media_type="application/json")
