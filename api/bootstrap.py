"""The composition root: the one place that wires settings, database, catalog, clock and service.

The HTTP app, the CLI, the scheduler and the tests all build their service
here, so they cannot drift apart. Nothing connects at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from service.complaints import ComplaintService, DeadlinesChanged
from storage.database import check_reachable, database_url, make_engine, upgrade
from storage.unit_of_work import UnitOfWorkFactory
from workflow.catalog import Catalog, shipped
from workflow.clock import Clock, SystemClock
from workflow.policy import POLICY_DIR


@dataclass(frozen=True)
class Settings:
    """Every setting, read from the environment with a default (docs/operators.md, Settings)."""

    db_url: str = field(default_factory=database_url)
    extra_policy_dir: str | None = field(default_factory=lambda: os.environ.get("COMPLAINTS_POLICY_DIR"))
    sweep_seconds: float = field(default_factory=lambda: float(os.environ.get("COMPLAINTS_SWEEP_SECONDS", "60")))
    log_level: str = field(default_factory=lambda: os.environ.get("COMPLAINTS_LOG_LEVEL", "INFO"))


@dataclass
class App:
    settings: Settings
    engine: Engine
    catalog: Catalog
    clock: Clock
    service: ComplaintService


def catalog_for(settings: Settings) -> Catalog:
    if settings.extra_policy_dir:
        return Catalog.from_dirs(POLICY_DIR, Path(settings.extra_policy_dir))
    return shipped()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
    migrate: bool = True,
    on_deadlines: DeadlinesChanged | None = None,
    engine: Engine | None = None,
) -> App:
    settings = settings or Settings()
    engine = engine or make_engine(settings.db_url)
    check_reachable(engine)
    if migrate:
        upgrade(engine)
    catalog = catalog or catalog_for(settings)
    clock = clock or SystemClock()
    service = ComplaintService(UnitOfWorkFactory(engine), catalog, clock, on_deadlines=on_deadlines)
    return App(settings, engine, catalog, clock, service)
