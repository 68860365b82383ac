"""The web console at ``/ui/``: server-rendered pages over the same service calls as the API and the CLI.

``mount`` adds its routes and its stylesheet to the FastAPI app; the API is
unchanged. No JavaScript at all, no CDN: the one asset is static/console.css.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from api.console.web import HERE
from service.store_cache import StoreCache

ROUTE_MODULES = (
    "api.console.routes_auth",
    "api.console.routes_work",
    "api.console.routes_cases",
    "api.console.routes_diagrams",
    "api.console.routes_policies",
    "api.console.routes_reports",
    "api.console.routes_missing",
)


def mount(api: FastAPI) -> None:
    """The console's routes and stylesheet; its cache of report figures (service/store_cache.py) on ``api.state``."""
    app = api.state.complaints  # None when only the routes are read (tests/unit/test_docs_references.py)
    api.state.console_cache = StoreCache(app.engine) if app is not None else None
    api.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for name in ROUTE_MODULES:
        api.include_router(importlib.import_module(name).router)
