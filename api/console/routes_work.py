"""The Work page: placeholder until the work list lands (service/work.py)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from api.console.session import signed_in
from api.console.web import ConsoleRoute, page

router = APIRouter(route_class=ConsoleRoute)


@router.get("/ui/work", include_in_schema=False)
async def work(request: Request) -> Response:
    who = await signed_in(request)
    return page(request, "work.html", who)
