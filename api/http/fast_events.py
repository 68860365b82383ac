"""``POST /cases/{case_id}/events`` without FastAPI's per-request machinery, when the request is well formed.

The event post is what back-office systems send most, and on PostgreSQL FastAPI's generic request handling
(solving the dependency tree, building the request's query and header maps, reading parameters one by one)
cost the server more CPU than the command itself. This route, matched before FastAPI's own, reads the
few headers and the body straight from the ASGI scope, checks them by the same rules (the same bearer
parsing and token cache, the headers' limits from api/http/routes_cases.py, the same ``PostEvent`` model)
and runs the same ``fire_event``. Anything it would not accept as it is (no or an unknown token, a role
that may not write, a header or body the schema refuses, another content type) is handed unchanged to
FastAPI's route, with the body it read replayed, so every error keeps its exact answer; so do the
command's own errors, which reach the app's exception handlers as from FastAPI's route. The OpenAPI
document still describes FastAPI's route (this one is not in the schema).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.routing import BaseRoute, Match, compile_path, get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.deps import Caller, token_caller
from api.http.idempotent import HEADER
from api.http.routes_cases import IF_MATCH_MAX, KEY_MAX, KEY_PATTERN, WRITER_ROLES, fire_event
from api.http.schemas import PostEvent

PATH = "/cases/{case_id}/events"
_REGEX, _FORMAT, _ = compile_path(PATH)
_KEY = re.compile(KEY_PATTERN.removeprefix("^").removesuffix("$"))
_SLOW = "complaints.fast_events.declined"  # set in a scope handed to FastAPI's route, so this one declines it
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
_WANTED = {b"authorization": 0, b"content-type": 1, HEADER.lower().encode(): 2, b"if-match": 3}


class FastEventRoute(BaseRoute):
    """Matched before the routers included by api/http/app.py; ``app``: the router to hand a declined request to."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.path = self.path_format = _FORMAT
        self.include_in_schema = False

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get(_SLOW):
            return Match.NONE, {}
        found = _REGEX.match(get_route_path(scope))
        if found is None:
            return Match.NONE, {}
        return Match.FULL, {"path_params": {**scope.get("path_params", {}), "case_id": found.group("case_id")}}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages, body = await _read(receive)
        accepted = await _accept(scope, body) if body is not None else None
        if accepted is None:
            scope[_SLOW] = True
            await self.app(scope, _replay(messages, receive), send)
            return
        who, event, key, if_match = accepted
        app = scope["app"].state.complaints
        response = await fire_event(app, who, scope["path"], scope["path_params"]["case_id"], event, key, if_match)
        await response(scope, receive, send)


async def _read(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The request's messages and its whole body (None when the client went away before sending it all)."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        if not message.get("more_body", False):
            break
    return messages, b"".join(m.get("body", b"") for m in messages)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _accept(scope: Scope, body: bytes) -> tuple[Caller, PostEvent, str | None, str | None] | None:
    """The caller, event and headers of a request FastAPI's route would run as it is; None: let it answer."""
    values: list[bytes | None] = [None, None, None, None]
    for name, value in scope["headers"]:
        slot = _WANTED.get(name.lower())
        if slot is not None:
            if values[slot] is not None:
                return None  # a repeated header: FastAPI's reading of it decides
            values[slot] = value
    raw_authorization, content_type, raw_key, raw_if_match = values
    if content_type is None or content_type.lower() not in _JSON_TYPES:
        return None
    key = raw_key.decode("latin-1") if raw_key is not None else None
    if key is not None and not (1 <= len(key) <= KEY_MAX and _KEY.fullmatch(key)):
        return None
    if_match = raw_if_match.decode("latin-1") if raw_if_match is not None else None
    if if_match is not None and len(if_match) > IF_MATCH_MAX:
        return None
    event = _event(body)
    if event is None:
        return None
    who = await _writer(scope, raw_authorization.decode("latin-1") if raw_authorization is not None else None)
    if who is None:
        return None
    return who, event, key, if_match


def _event(body: bytes) -> PostEvent | None:
    try:
        return PostEvent.model_validate(json.loads(body))
    except ValidationError:
        return None
    except Exception:  # not JSON (or nested past the parser's depth): FastAPI's route answers it
        return None


async def _writer(scope: Scope, authorization: str | None) -> Caller | None:
    """The caller when its bearer token is known and may post events (api/http/deps.py's rules)."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    token = credentials.strip()
    if not token:
        return None
    who = await token_caller(scope["app"].state.complaints, token)
    if who is None or (who.role != "admin" and who.role not in WRITER_ROLES):
        return None
    return who


def install(api: Any) -> None:
    """Put the route first in the FastAPI app's router (after the app's routers were included)."""
    api.router.routes.insert(0, FastEventRoute(api.router))
