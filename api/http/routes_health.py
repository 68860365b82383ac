"""GET /health: no auth, for load balancers and the e2e tests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.bootstrap import App
from api.http.deps import get_app

router = APIRouter()


@router.get("/health", tags=["health"])
def health(app: App = Depends(get_app)) -> dict[str, Any]:
    with app.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    return {"status": "ok", "database": app.engine.dialect.name, "policies": len(app.catalog.all())}
