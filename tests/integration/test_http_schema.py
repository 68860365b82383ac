"""schemathesis against the app's own OpenAPI document: no 5xx, and every answer matches the document.

Runs in-process (ASGI) on SQLite and PostgreSQL, with an admin token (admin
passes every role check) and a few real cases, so generated calls reach the
service rather than stopping at auth. Each operation gets a bounded number of
valid and of invalid requests, to keep the suite fast.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.bootstrap import Settings, bootstrap
from api.http.app import create_app
from api.http.deps import create_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 15


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_answer_matches_the_openapi_document(db_url: str, mode: GenerationMode) -> None:
    app = bootstrap(Settings(db_url=db_url))
    token = create_token(app.engine, "fuzzer", "admin", app.clock.now())
    for policy in ("livin", "code_2024"):
        app.service.open_case(policy, {"incident_date": "2026-01-05", "formal": True}, actor="seed")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app))
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # an operation with no input cannot be called wrongly
    app.engine.dispose()
