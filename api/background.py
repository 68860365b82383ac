"""Wiring of the background worker ``complaints serve`` runs beside the timers (scheduler/delivery.py).

``COMPLAINTS_WEBHOOK_*`` settings: service/webhooks.py (DeliverySettings); ``COMPLAINTS_DELIVERY=off``
runs an instance without delivery or reminders (another instance on the same PostgreSQL does them).
"""

from __future__ import annotations

import os

from api.bootstrap import App
from scheduler.delivery import BackgroundWorker
from service.due_soon import DueSoon
from service.webhooks import DeliverySettings, Webhooks


def delivery_enabled() -> bool:
    return os.environ.get("COMPLAINTS_DELIVERY", "on").lower() not in ("off", "0", "no")


def background_worker(app: App) -> BackgroundWorker | None:
    """The worker loop on a thread of this process: what the child of ``complaints serve`` runs
    (api/delivery_process.py says why serve gives it a process of its own)."""
    if not delivery_enabled():
        return None
    hooks = Webhooks(app.engine, app.clock, DeliverySettings.from_env())
    reminders = DueSoon(app.engine, app.catalog)

    def work() -> int:
        return hooks.work()

    return BackgroundWorker(app.clock, work, reminders.sweep, sweep_seconds=app.settings.sweep_seconds,
                            on_stop=hooks.close)  # fmt: skip
