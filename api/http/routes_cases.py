"""Cases over HTTP: open, list, read, fire events, history, allowed events. Every call goes through the service.

Roles: ``automation`` opens cases and posts events (and reads what it
drives); ``analyst`` and ``auditor`` read; only ``auditor`` reads histories;
``admin`` may do everything. The actor recorded on an event is the token's name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from api.bootstrap import App
from api.http.deps import Caller, get_app, require
from api.http.errors import documented
from api.http.idempotent import HEADER, request_fingerprint, run_once
from api.http.offload import off_loop
from api.http.schemas import (
    EARLIEST,
    LATEST,
    POLICY_REF,
    AllowedOut,
    CaseOut,
    CasePageOut,
    EventOut,
    OpenCase,
    PostEvent,
)
from storage.idempotency import IdempotencyGuard
from storage.queries import CaseQuery
from workflow.audit.history import EventRecord
from workflow.calendar import LONDON
from workflow.errors import CaseNotFound, EventRefused
from workflow.vocabulary import STATES

router = APIRouter(tags=["cases"])

WRITER_ROLES = ("automation",)
WRITER = require(*WRITER_ROLES)
READER = require("automation", "analyst", "auditor")
AUDITOR = require("auditor")

# Case ids are UUIDs made here (scenario runs may choose their own); anything else is simply not a case.
_CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_VERSION = re.compile(r'(?:W/)?"?(\d{1,9})"?')

# The headers' rules, which api/http/fast_events.py checks too.
KEY_MAX, KEY_PATTERN, IF_MATCH_MAX = 200, r"^[\x21-\x7e]+$", 40
KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=KEY_MAX,
        pattern=KEY_PATTERN,
        description="any printable ASCII string of yours; a retry with the same key and body is answered once",
    ),
]
IfMatchHeader = Annotated[
    str | None,
    Header(alias="If-Match", max_length=IF_MATCH_MAX, description="the case version you read (ETag); stale = 412"),
]


def _case_id(case_id: str) -> str:
    if not _CASE_ID.fullmatch(case_id):
        raise CaseNotFound(f"no case {case_id!r}")
    return case_id


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _VERSION.fullmatch(if_match.strip())
    if match is None:
        raise EventRefused(["invalid_data"], {"If-Match": f"{if_match!r} is not a case version (a whole number)"})
    return int(match.group(1))


def _case_headers(view: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{view["version"]}"', "Location": f"/cases/{view['id']}"}


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseOut,
    responses=documented(401, 403, 404, 409, 422),
    summary="Open a case (the receive event)",
)
async def open_case(
    body: OpenCase,
    request: Request,
    idempotency_key: KeyHeader = None,
    who: Caller = Depends(WRITER),
    app: App = Depends(get_app),
) -> JSONResponse:
    fingerprint = request_fingerprint("POST", request.scope["path"], body.model_dump(mode="json"))

    def command(guard: IdempotencyGuard | None) -> dict[str, Any]:
        return app.service.open_case(body.policy, body.data, body.occurred_at, who.name, hook=guard)

    return await run_once(app, who, idempotency_key, fingerprint, 201, command, _case_headers)


@router.get(
    "/cases",
    response_model=CasePageOut,
    responses=documented(401, 403, 404, 422),
    summary="Find cases (filters combine; oldest opening first)",
)
async def list_cases(
    state: Literal[STATES] | None = Query(None, description="the case's state now"),  # type: ignore[valid-type]
    policy: str | None = Query(None, pattern=POLICY_REF, description="policy id, or id@version"),
    breached: bool | None = Query(None, description="true: at least one breach; false: none"),
    opened_from: datetime | None = Query(
        None, description="opened at or after this instant (a date or a time without offset is London time)"
    ),
    opened_before: datetime | None = Query(None, description="opened before this instant (same reading)"),
    external_ref: str | None = Query(None, max_length=128, description="the reference an imported case had"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    _who: Caller = Depends(READER),
    app: App = Depends(get_app),
) -> dict[str, Any]:
    policy_id = policy_version = None
    if policy is not None:
        chosen = app.catalog.resolve(policy)
        policy_id, policy_version = chosen.id, (chosen.version if "@" in policy else None)
    query = CaseQuery(
        state=state,
        policy_id=policy_id,
        policy_version=policy_version,
        breached=breached,
        opened_from=_instant("opened_from", opened_from),
        opened_to=_instant("opened_before", opened_before),
        external_ref=external_ref,
    )
    page = await off_loop(app, lambda: app.service.find_cases(query, limit, offset))
    following = offset + limit if offset + limit < page.total else None
    return {"items": page.items, "total": page.total, "limit": limit, "offset": offset, "next_offset": following}


def _instant(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    if not EARLIEST <= value < LATEST:
        raise EventRefused(["invalid_data"], {name: "must be an instant between the years 1900 and 2200"})
    return value.astimezone(UTC)


@router.get(
    "/cases/{case_id}",
    response_model=CaseOut,
    responses=documented(401, 403, 404),
    summary="A case: state, closure reason, open deadlines, breaches, version (also the ETag)",
)
async def get_case(case_id: str, _who: Caller = Depends(READER), app: App = Depends(get_app)) -> JSONResponse:
    case_id = _case_id(case_id)
    view = await off_loop(app, lambda: app.service.get_case(case_id))
    return JSONResponse(view, headers=_case_headers(view))


@router.post(
    "/cases/{case_id}/events",
    response_model=CaseOut,
    responses=documented(401, 403, 404, 409, 412, 422),
    summary="Fire an event on a case; answers the case after it",
)
async def post_event(
    case_id: str,
    body: PostEvent,
    request: Request,
    idempotency_key: KeyHeader = None,
    if_match: IfMatchHeader = None,
    who: Caller = Depends(WRITER),
    app: App = Depends(get_app),
) -> JSONResponse:
    return await fire_event(app, who, request.scope["path"], case_id, body, idempotency_key, if_match)


async def fire_event(
    app: App, who: Caller, path: str, case_id: str, body: PostEvent, key: str | None, if_match: str | None
) -> JSONResponse:
    """What ``POST /cases/{case_id}/events`` does once its input is valid (api/http/fast_events.py calls it too)."""
    expected = _expected_version(if_match)
    case_id = _case_id(case_id)
    # scope["path"] is what request.url.path gives for a matched route (a case id has no ?, # or backslash), without
    # building the URL: stored fingerprints stay the same.
    fingerprint = request_fingerprint("POST", path, body.model_dump(mode="json"), str(expected))

    def command(guard: IdempotencyGuard | None) -> dict[str, Any]:
        return app.service.apply(case_id, body.name, body.data, body.occurred_at, who.name, expected, hook=guard)

    return await run_once(app, who, key, fingerprint, 200, command, _case_headers)


@router.get(
    "/cases/{case_id}/events",
    response_model=list[EventOut],
    responses=documented(401, 403, 404),
    summary="A case's history, oldest first (auditors)",
)
async def history(case_id: str, _who: Caller = Depends(AUDITOR), app: App = Depends(get_app)) -> list[dict[str, Any]]:
    case_id = _case_id(case_id)
    records: list[EventRecord] = await off_loop(app, lambda: app.service.history(case_id))
    return [r.to_dict() for r in records]


@router.get(
    "/cases/{case_id}/allowed",
    response_model=list[AllowedOut],
    responses=documented(401, 403, 404),
    summary="Every event of the case's machine: allowed now or not, with the reason codes",
)
async def allowed(case_id: str, _who: Caller = Depends(READER), app: App = Depends(get_app)) -> list[dict[str, Any]]:
    case_id = _case_id(case_id)
    return await off_loop(app, lambda: app.service.allowed(case_id))
