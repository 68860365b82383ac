"""Any other path under /ui/: the console's 404 page with a way back (included last)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from api.console.session import signed_in
from api.console.web import ConsoleRoute, error_page

router = APIRouter(route_class=ConsoleRoute)


@router.get("/ui/{rest:path}", include_in_schema=False)
async def missing(request: Request, rest: str) -> Response:
    who = await signed_in(request)
    return error_page(request, 404, "Not found", f"there is no console page /ui/{rest}", who)
