"""Reading a page's query string the way the API reads its parameters, but answering per field.

A malformed filter is not an error page: the form is shown again with the
field and the reason next to it (``Filters.errors``), and nothing is queried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from api.http.schemas import EARLIEST, LATEST, POLICY_REF
from workflow.calendar import LONDON
from workflow.catalog import Catalog
from workflow.errors import UnknownPolicy
from workflow.vocabulary import STATES

PAGE_SIZES = (25, 50, 100)


@dataclass
class Filters:
    """The raw values (to refill the form) and the errors by field name."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        value = self.values.get(name, "").strip()
        return value or None

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if value is not None and value not in allowed:
            self.errors[name] = f"{value!r} is not one of: {', '.join(allowed)}"
            return None
        return value

    def whole(self, name: str, default: int, low: int, high: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(r"\d{1,10}", value) or not low <= int(value) <= high:
            self.errors[name] = f"{value!r} is not a whole number from {low} to {high}"
            return default
        return int(value)

    def boolean(self, name: str) -> bool | None:
        value = self.choice(name, ("yes", "no"))
        return None if value is None else value == "yes"

    def instant(self, name: str) -> datetime | None:
        """A date or a date and time; without an offset it is London time (as ``GET /cases`` reads it)."""
        value = self.text(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"{value!r} is not a date (YYYY-MM-DD) or a date and time"
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=LONDON)
        if not EARLIEST <= parsed < LATEST:
            self.errors[name] = "must be between the years 1900 and 2200"
            return None
        return parsed.astimezone(UTC)

    def day(self, name: str) -> date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"{value!r} is not a date (YYYY-MM-DD)"
            return None

    def policy(self, name: str, catalog: Catalog) -> tuple[str | None, int | None]:
        """Policy id (every version) or id@version, resolved by the catalog like the API does."""
        value = self.text(name)
        if value is None:
            return None, None
        try:
            if not re.fullmatch(POLICY_REF, value):
                raise UnknownPolicy(value)
            chosen = catalog.resolve(value)
        except UnknownPolicy:
            self.errors[name] = f"no policy {value!r}; choose one from the list"
            return None, None
        return chosen.id, (chosen.version if "@" in value else None)


def state_choices() -> tuple[str, ...]:
    return STATES
