"""``GET /work``: the work list a complaints team opens each morning (service/work.py).

Roles: automation, analyst, auditor (and admin). Every filter is checked by
the service, so this route, the CLI and the console answer a bad one alike:
422 ``invalid_data`` naming the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from api.http.offload import off_loop
from service.work import WorkPage, WorkQuery, parse_date

router = APIRouter(tags=["work"])

READER = require("automation", "analyst", "auditor")


class WorkItemOut(BaseModel):
    case_id: str
    number: int = Field(description="the deadline's number on its case")
    policy_id: str
    policy_version: int
    kind: str = Field(description="an obligation's kind (windows are never listed)")
    stage: int
    due: str = Field(description="the last London date on which it is met on time")
    breach_at: str = Field(description="the instant it passes (UTC)")
    state: str = Field(description="the case's state now")
    handler: str | None = Field(description="the handler of the case's latest acknowledgement, null if none")
    working_days_left: int = Field(description="0: due today; negative: breached and still unmet")
    breached: bool


class WorkPageOut(BaseModel):
    items: list[WorkItemOut]
    total: int = Field(description="how many owed obligations match the filters")
    limit: int
    offset: int
    next_offset: int | None = Field(description="the offset of the next page, null on the last")
    today: str = Field(description="the London date the working days are counted from")


@router.get(
    "/work",
    response_model=WorkPageOut,
    responses=documented(401, 403, 422),
    summary="The work list: open obligations in due order, with working days left (overdue first)",
)
async def work(
    due_before: str | None = Query(None, description="only obligations due before this date (YYYY-MM-DD)"),
    kind: str | None = Query(None, description="one obligation kind, e.g. stage_1_response"),
    handler: str | None = Query(None, description="the case's handler (trimmed, any letter case)"),
    policy: str | None = Query(None, description="policy id, or id@version"),
    state: str | None = Query(None, description="the case's state now"),
    limit: int = Query(50, description="1 to 500"),
    offset: int = Query(0, description="0 or more"),
    _who: Caller = Depends(READER),
    app: App = Depends(get_app),
) -> dict[str, Any]:
    query = WorkQuery(parse_date("due_before", due_before), kind, handler, policy, state, limit, offset)
    page: WorkPage = await off_loop(app, lambda: app.service.work(query))
    return page.to_dict()
