"""Reports: TSM for a year, KPIs for a month, the last 12 months and open-case ages as charts, the process map.

Every figure is ``ReportService.tsm`` / ``ReportService.kpi`` (the API's and
the CLI's reports) and every table is ``report_format``'s, so the page, the
CSV download, ``GET /reports/...?format=csv`` and ``complaints report`` agree.
The 12-month chart is the KPI report's figures of each of those months
(``ReportService.monthly``). The figures are kept in the console's
``StoreCache`` until an event is committed (service/store_cache.py), so a
second view, a chosen month or the CSV download reuse them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response

from api.console.charts import bar_chart
from api.console.forms import Filters
from api.console.routes_cases import policy_options
from api.console.session import signed_in
from api.console.web import ConsoleRoute, page, with_headers
from api.http.offload import off_loop
from api.report_format import Table, _csv, render, tables_for
from service.reports import Parts, ReportService, add_parts, calendar_month, reporting_year
from service.store_cache import StoreCache
from storage.store_mark import StoreMark, earliest_touched, new_cases, read_mark, snapshot
from workflow.calendar import local_date

router = APIRouter(route_class=ConsoleRoute)
Row = tuple[str, int, int, int]  # the 12-month chart's (month, received, responded on time, breaches)
Revise = Callable[[Any, Any, Callable[[], list[str] | None], Connection], Any]
FIELDS = ("year", "homes", "month", "policy")


def _months_back(month: str, n: int) -> list[str]:
    year, number = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return out[::-1]


def _read(request: Request) -> tuple[Filters, dict[str, Any]]:
    """The report form: year and homes for TSM, month and policy for the KPIs; defaults are today's."""
    app = request.app.state.complaints
    today = local_date(app.clock.now())
    form = Filters({k: request.query_params.get(k, "") for k in FIELDS})
    start_year = today.year if today.month >= 4 else today.year - 1
    chosen = {
        "year": form.whole("year", start_year, 2000, 2200),
        "homes": form.whole("homes", 1000, 1, 10_000_000),
        "month": form.text("month") or f"{today:%Y-%m}",
        "policy": form.text("policy"),
    }
    try:
        date.fromisoformat(chosen["month"] + "-01")
        if len(chosen["month"]) != 7:
            raise ValueError
    except ValueError:
        form.errors["month"] = f"{chosen['month']!r} is not a month (YYYY-MM)"
    form.policy("policy", app.catalog)
    for name in ("year", "homes", "month"):  # the form shows what the page shows
        if name not in form.errors and not form.values.get(name):
            form.values[name] = str(chosen[name])
    return form, chosen


Kept = tuple[StoreMark, Any]  # counts and the mark of the snapshot they were counted in
NEW_CASES = 200  # at most this many new cases are counted and added to kept counts; past it, all afresh


class CachedReports:
    """``ReportService``'s tsm, kpi and monthly figures through the console's cache (never changed here).

    Each is counted in one snapshot with its mark (``storage.store_mark``). After a write, counts over a period
    that ended at or before the earliest event of every case written since the mark (``earliest_touched``) are
    kept as they are: those cases changed nothing such a period reads, and no other case changed. Otherwise,
    when every case written since is new since the mark (``new_cases``: it added nothing to the kept counts),
    the counts of those cases alone are added to the kept ones (``add_parts``: every count is a sum over cases);
    else they are counted again. The 12-month chart is kept month by month: the months from the first one a
    written case reaches are brought up to date the same way (``ReportService.monthly`` of consecutive months is
    each month's own, and a sum over cases too).
    """

    def __init__(self, request: Request) -> None:
        app = request.app.state.complaints
        self.engine = app.engine
        self.service = ReportService(app.engine, app.catalog)
        self.cache: StoreCache = request.app.state.console_cache
        self.version: tuple[int, ...] | None = None  # read once, at the first figure: one read per page

    def _get(self, key: tuple[Any, ...], compute: Callable[[Connection], Any], revise: Revise) -> Any:
        """The kept counts of ``key``, counted by ``compute`` on a snapshot; after a write, ``revise(counts, since,
        new, connection)`` brings them up to date on a snapshot of the store now, ``since`` being the earliest
        instant a case written since reaches and ``new()`` those cases when they are all new (else None)."""
        if self.version is None:
            self.version = self.cache.version()

        def fresh() -> Kept:
            with snapshot(self.engine) as connection:  # counts and mark of one snapshot: no event counted twice
                return read_mark(connection), compute(connection)

        def update(kept: Kept) -> Kept:
            with snapshot(self.engine) as connection:
                mark, since = read_mark(connection), earliest_touched(connection, kept[0])
                if since is None:
                    return mark, kept[1]
                return mark, revise(kept[1], since, lambda: new_cases(connection, kept[0], NEW_CASES), connection)

        return self.cache.get(key, fresh, self.version, update=update)[1]

    def _period(self, key: tuple[Any, ...], count: Callable[[Any, Connection], Parts], end: Any) -> Parts:
        """Counts over a period ending at ``end`` (``count(only, connection)``): kept while no written case
        reaches back before it, else the new cases' counts added, else counted again."""

        def revise(parts: Parts, since: Any, new: Callable[[], list[str] | None], connection: Connection) -> Parts:
            if end <= since:
                return parts
            ids = new()
            return count(None, connection) if ids is None else add_parts(parts, count(ids, connection))

        return self._get(key, lambda connection: count(None, connection), revise)

    def tsm(self, year: int, homes: int) -> dict[str, Any]:
        parts = self._period(
            ("tsm", year), lambda only, c: self.service.tsm_parts(year, only, c), reporting_year(year)[1]
        )
        return self.service.tsm_figures(year, homes, parts)

    def kpi(self, month: str, policy: str | None) -> dict[str, Any]:
        parts = self._period(
            ("kpi", month, policy),
            lambda only, c: self.service.kpi_parts(month, policy, only, c),
            calendar_month(month)[1],
        )
        return self.service.kpi_figures(month, policy, parts)

    def monthly(self, months: list[str], policy: str | None) -> list[tuple[str, int, int, int]]:
        def revise(
            rows: list[Row], since: Any, new: Callable[[], list[str] | None], connection: Connection
        ) -> list[Row]:
            still = [row for row in rows if calendar_month(row[0])[1] <= since]
            rest = months[len(still) :]
            if not rest:
                return still
            ids = new()
            if ids is None:
                return still + self.service.monthly(rest, policy, connection=connection)
            more = self.service.monthly(rest, policy, ids, connection)
            return still + [
                (m, a + x, b + y, c + z) for (m, a, b, c), (_, x, y, z) in zip(rows[len(still) :], more, strict=True)
            ]

        key = ("monthly", tuple(months), policy)
        return list(self._get(key, lambda c: self.service.monthly(months, policy, connection=c), revise))


def trend(reports: ReportService | CachedReports, month: str, policy: str | None) -> Table:
    """Received, responded within the Code's timescales, and breaches, for the 12 months up to ``month``.

    ``ReportService.monthly``: the KPI report's figures for each month (tests/integration/test_reports.py
    checks them against ``kpi``), without the day counts and ages the chart does not use.
    """
    rows = reports.monthly(_months_back(month, 12), policy)
    return Table("Last 12 months", ("month", "received", "responded on time", "breaches"), rows)


def ages(kpi: dict[str, Any]) -> Table:
    by_state = kpi["open_cases"]["age_in_working_days"]
    buckets = list(next(iter(by_state.values()), {}))
    totals = [sum(b.get(bucket, 0) for b in by_state.values()) for bucket in buckets]
    return Table(
        f"Open cases by age in working days, as of {kpi['open_cases']['as_of']}",
        ("age (WD)", "open cases"),
        list(zip(buckets, totals, strict=True)),
    )


@router.get("/ui/reports", include_in_schema=False)
async def reports(request: Request) -> Response:
    who = await signed_in(request, "analyst")
    app = request.app.state.complaints
    form, chosen = _read(request)
    context: dict[str, Any] = {"form": form, "policy_options": policy_options(app), "chosen": chosen}
    if not form.errors:
        service = CachedReports(request)

        def build() -> dict[str, Any]:
            kpi = service.kpi(chosen["month"], chosen["policy"])
            return {
                "tsm": tables_for(service.tsm(chosen["year"], chosen["homes"])),
                "kpi": tables_for(kpi),
                "trend": trend(service, chosen["month"], chosen["policy"]),
                "ages": ages(kpi),
            }

        context.update(await off_loop(app, build))
        t, a = context["trend"], context["ages"]
        context["trend_chart"] = bar_chart(
            t.title,
            [date.fromisoformat(f"{m}-01").strftime("%b") for m, *_ in t.rows],
            [(name, [row[i + 1] for row in t.rows]) for i, name in enumerate(t.columns[1:])],
            "trend",
        )
        context["ages_chart"] = bar_chart(
            a.title, [str(r[0]) for r in a.rows], [("open cases", [r[1] for r in a.rows])], "ages"
        )
        keep = {k: v for k, v in chosen.items() if v is not None}
        context["csv"] = {name: f"/ui/reports/{name}.csv?" + urlencode(keep) for name in ("tsm", "kpi", "trend")}
        flow = {"policy": chosen["policy"] or "b3living"}
        context["flow_src"] = "/ui/reports/flow.svg?" + urlencode(flow)
        context["flow_policy"] = flow["policy"]
    return page(request, "reports.html", who, status=422 if form.errors else 200, **context)


@router.get("/ui/reports/{name}.csv", include_in_schema=False)
async def download(request: Request, name: str) -> Response:
    who = await signed_in(request, "analyst")
    app = request.app.state.complaints
    form, chosen = _read(request)
    if form.errors or name not in ("tsm", "kpi", "trend"):
        return page(
            request,
            "reports.html",
            who,
            status=422 if form.errors else 404,
            form=form,
            chosen=chosen,
            policy_options=policy_options(app),
        )
    service = CachedReports(request)

    def build() -> str:
        if name == "tsm":
            return render(service.tsm(chosen["year"], chosen["homes"]), "csv")
        if name == "kpi":
            return render(service.kpi(chosen["month"], chosen["policy"]), "csv")
        return _csv([trend(service, chosen["month"], chosen["policy"])])

    text = await off_loop(app, build)
    stamp = chosen["year"] if name == "tsm" else chosen["month"]
    response = Response(text, media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return with_headers(response)
