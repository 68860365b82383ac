"""Errors as HTTP answers, in one place: one JSON shape and one status per kind of error.

``{"error": code, "reasons": [...], "detail": text, "details": {field: why}}``:
a refusal by the policy is 409 with every reason code; data that does not fit
(``invalid_data``, or a body the schema rejects) is 422 naming the field; an
unknown case or policy is 404; a stale ``If-Match`` is 412.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.exceptions import RequestValidationError

from api.http.schemas import ErrorOut
from storage.database import DatabaseUnavailable
from workflow.errors import CaseNotFound, ComplaintsError, EventRefused, UnknownPolicy, VersionConflict

_ERROR_SCHEMA: dict[str, Any] = ErrorOut.model_json_schema()

# Location prefixes FastAPI puts before a field's name; the field is named without them.
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def error_body(code: str, reasons: list[str], detail: Any, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "reasons": reasons, "detail": str(detail), "details": dict(details or {})}


def status_for(err: ComplaintsError) -> int:
    if isinstance(err, EventRefused):
        return 422 if err.is_invalid_data else 409
    if isinstance(err, CaseNotFound | UnknownPolicy) or err.code == "not_found":
        return 404
    if isinstance(err, VersionConflict):
        return 412
    return 422


def domain_error(err: ComplaintsError) -> tuple[int, dict[str, Any]]:
    details = getattr(err, "details", None) or {}
    # Data that does not fit is `invalid_data` whether the schema or the domain found it (422 either way).
    code = "invalid_data" if isinstance(err, EventRefused) and err.is_invalid_data else err.code
    return status_for(err), error_body(code, err.reasons, err.detail, details)


def unavailable(err: DatabaseUnavailable) -> tuple[int, dict[str, Any]]:
    return 503, error_body("database_unavailable", ["database_unavailable"], str(err))


def _field(loc: Iterable[Any], kind: str) -> str:
    parts = [str(p) for p in loc]
    if kind == "json_invalid":
        return "body"
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error(err: RequestValidationError) -> tuple[int, dict[str, Any]]:
    """A request the schema rejects: 422 ``invalid_data`` naming each field and why."""
    details: dict[str, str] = {}
    for problem in err.errors():
        field = _field(problem.get("loc", ()), str(problem.get("type", "")))
        details.setdefault(field, str(problem.get("msg", "invalid")))
    text = "; ".join(f"{f}: {m}" for f, m in details.items())
    return 422, error_body("invalid_data", ["invalid_data"], f"invalid request: {text}", details)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer (all the same shape)."""
    words = {
        400: "bad request",
        401: "no token, or an unknown or revoked one",
        403: "the token's role may not do this",
        404: "unknown case or policy",
        409: "refused by the policy: every reason code",
        412: "If-Match names a version the case is no longer at",
        422: "invalid data: the field at fault is named (or an Idempotency-Key reused with another body)",
        503: "the database is unavailable",
    }
    # The schema is given inline under application/json, not as a "model": FastAPI would file a model under
    # the route's own media type, and routes that answer SVG or text answer their errors in JSON.
    return {
        s: {"description": words.get(s, "error"), "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
        for s in statuses
    }
