"""Running a POST at most once per ``Idempotency-Key`` (the HTTP side of storage/idempotency.py).

The key is scoped to the caller's token name. The request's fingerprint is
its method, path, canonical JSON body and ``If-Match``: the same key with the
same fingerprint gets the first answer back (``Idempotent-Replayed: true``)
and writes nothing; with another fingerprint it is 422
``idempotency_key_reused``. A command that writes stores its answer in its
own transaction (``IdempotencyGuard``); a refusal by the policy writes no
event and is stored after it, so a retry gets the same refusal. Answers that
depend on the moment (a stale version, an unknown case) are not stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse

from api.bootstrap import App
from api.http.deps import Caller
from api.http.errors import domain_error, error_body
from api.http.offload import write
from service.logs import get_logger
from storage import idempotency
from storage.idempotency import IdempotencyGuard, KeyTaken, StoredResponse
from workflow.errors import EventRefused

HEADER = "Idempotency-Key"
log = get_logger("complaints.http")
REPLAYED = "Idempotent-Replayed"

Command = Callable[[IdempotencyGuard | None], dict[str, Any]]
Headers = Callable[[dict[str, Any]], dict[str, str]]


def _store_refusal(app: App, key: str, request_hash: str, status: int, body: Any, now: Any) -> StoredResponse | None:
    idempotency.store(app.engine, key, request_hash, status, body, now)
    return idempotency.find(app.engine, key)


def request_fingerprint(method: str, path: str, body: Any, if_match: str | None = None) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return idempotency.fingerprint(method.upper(), path, canonical, if_match or "")


def _replay(stored: StoredResponse, key: str, request_hash: str, headers: Headers) -> JSONResponse:
    if stored.request_hash != request_hash:
        body = error_body(
            "idempotency_key_reused",
            ["idempotency_key_reused"],
            f"this {HEADER} was used for a different request; use a new key for a new request",
            {HEADER: "already used with another body"},
        )
        return JSONResponse(body, status_code=422)
    extra = headers(stored.body) if stored.status_code < 300 else {}
    case_id = stored.body.get("id") if isinstance(stored.body, dict) else None
    log.info("idempotent_replay", key=key, status=stored.status_code, case_id=case_id)
    return JSONResponse(stored.body, status_code=stored.status_code, headers={**extra, REPLAYED: "true"})


async def run_once(
    app: App,
    who: Caller,
    key: str | None,
    request_hash: str,
    status_code: int,
    command: Command,
    headers: Headers,
) -> JSONResponse:
    """Run ``command`` (given the guard to run inside its transaction) unless ``key`` already has an answer."""
    if key is None:
        view = await write(app, lambda: command(None))
        return JSONResponse(view, status_code=status_code, headers=headers(view))
    scoped = idempotency.scoped_key(who.name, key)
    guard = IdempotencyGuard(scoped, request_hash, status_code, app.clock.now())
    try:
        view = await write(app, lambda: command(guard))
    except KeyTaken as taken:  # a concurrent request with this key wrote first
        return _replay(taken.stored, scoped, request_hash, headers)
    except EventRefused as refusal:
        status, body = domain_error(refusal)
        now = app.clock.now()
        first = await write(app, lambda: _store_refusal(app, scoped, request_hash, status, body, now))
        if first is None or (first.request_hash == request_hash and first.body == body):
            raise
        return _replay(first, scoped, request_hash, headers)  # another request's answer got there first
    return JSONResponse(view, status_code=status_code, headers=headers(view))
