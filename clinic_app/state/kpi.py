"""The manager's dashboard: KPIs over a date range with filters, drill-down and CSV, live."""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx

from clinic_app.db import session_scope, utcnow
from clinic_app.live import registry
from clinic_app.live.events import KPI_PREFIX, AppointmentChanged, ClaimsChanged, TasksChanged, kpi_topic
from clinic_app.live.surfaces import Surface, register
from clinic_app.services.kpi import kpi
from clinic_app.services.platform.clock import local, parse_day
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.platform.money import amount as money
from clinic_app.state.auth import current_actor, page_actor
from clinic_app.state.common import Option, in_db, today_at
from clinic_app.state.reflex_adapter import client_token

ALL = "all"  # a select's value for "no filter" (Radix selects take no empty value)
DRILL_SHOWN = 200  # rows shown on the page; the CSV holds them all


@dataclasses.dataclass
class Tile:
    key: str
    label: str
    value: str
    detail: str


@dataclasses.dataclass
class TaskLoadRow:
    name: str
    open: int
    overdue: int


KPI_TASKS = "kpitasks"  # the live surface of the tasks section (open and overdue tasks now)
KPI_TASKS_TOPIC = f"{KPI_TASKS}:all"


def _task_rows(rows: list[dict]) -> list[TaskLoadRow]:
    return [TaskLoadRow(name=r["name"], open=r["open"], overdue=r["overdue"]) for r in rows]


@dataclasses.dataclass
class UtilRow:
    name: str
    booked: str
    available: str
    rate: str
    percent: float


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} min"


def _tiles(f: dict) -> list[Tile]:
    """Each tile's value in words a manager reads, with what it is out of."""
    ar = f["ar_days"]
    per_case = f["visits_per_case"]
    util_rooms = [r for r in f["utilisation_by_room"] if r["available_minutes"]]
    util_providers = [r for r in f["utilisation_by_provider"] if r["available_minutes"]]
    values = {
        "visits": (str(f["visits"]), f"note signed; {f['scheduled']} scheduled"),
        "arrivals": (str(f["arrivals"]), "patients who came"),
        # The rates' base: appointments booked in the range less those cancelled in advance
        # (no-shows and late cancellations included: they held the slot).
        "no_show_rate": (_pct(f["no_show_rate"]), f"{f['no_shows']} of {f['rate_denominator']} booked, not cancelled in advance"),
        "late_cancel_rate": (_pct(f["late_cancel_rate"]), f"{f['late_cancels']} of {f['rate_denominator']} booked, not cancelled in advance"),
        "utilisation_by_provider": (_pct(f["utilisation"]), f"{len(util_providers)} providers with hours"),
        "utilisation_by_room": (_pct(f["room_utilisation"]), f"{len(util_rooms)} rooms"),
        "new_patients": (str(f["new_patients"]), "first visit ever"),
        "visits_per_case": ("-" if per_case is None else f"{per_case:.1f}", f"{f['case_visits']} visits in {f['cases']} cases"),
        "wait_time": (_minutes(f["wait_minutes_avg"]), f"over {f['wait_count']} visits"),
        "documentation_lag": (_minutes(f["lag_minutes_avg"]), f"over {f['lag_count']} signed notes"),
        "charges": ("$" + money(f["charges_cents"]), "captured, by date of service"),
        "payments": ("$" + money(f["payments_cents"]), "received, net of refunds"),
        "collection_rate": (_pct(f["collection_rate"]),
                            f"of ${money(f['billed_charges_cents'] - f['contractual_adjustments_cents'])} billed net"),
        "ar_days": ("-" if ar is None else f"{ar:.1f}", f"${money(f['ar_open_cents'])} open at the end"),
        "clean_claim_rate": (_pct(f["clean_claim_rate"]), f"{f['claims_clean']} of {f['claims_answered']} answered"),
        "denial_rate": (_pct(f["denial_rate"]), f"{f['claims_denied']} of {f['claims_adjudicated']} adjudicated"),
    }
    return [Tile(key=key, label=label, value=values[key][0], detail=values[key][1]) for key, (label, _) in kpi.TILES.items()]


def _util_rows(rows: list[dict], name: str) -> list[UtilRow]:
    return [
        UtilRow(
            name=r[name], booked=f"{r['booked_minutes']:.0f}",
            available="no hours set" if r["available_minutes"] is None else f"{r['available_minutes']:.0f}",
            rate=_pct(r["utilisation"]), percent=round((r["utilisation"] or 0) * 100, 1),
        )
        for r in rows
    ]


def _cell(column: str, value) -> str:
    if value is None:
        return ""
    if column.endswith("_cents"):
        return money(value)
    return kpi.shown(column, value)


async def warm_up() -> None:
    """Lifespan task: the dashboard's default view computed once as the server starts (rollup
    brought up to date, queries prepared), so the first manager to sign in does not wait for it."""
    import asyncio
    import logging

    from clinic_app.db import engine

    def run() -> None:
        kpi.warm_up(engine())

    try:
        await asyncio.to_thread(run)
    except Exception:  # a dashboard that is not warm still works: it computes on first load
        logging.getLogger(__name__).exception("warming the KPI dashboard failed")


class KpiState(rx.State):
    """One dashboard: a date range, filters, tiles, charts and the rows behind one tile."""

    preset: str = "this_month"
    start: str = ""
    end: str = ""
    location_id: str = ALL
    provider_id: str = ALL
    payer_id: str = ALL
    presets: list[Option] = [Option(value=k, label=v) for k, v in kpi.PRESETS.items()]
    locations: list[Option] = []
    providers: list[Option] = []
    payers: list[Option] = []
    tiles: list[Tile] = []
    visits_chart: list[dict] = []
    provider_util: list[UtilRow] = []
    provider_chart: list[dict] = []
    room_util: list[UtilRow] = []
    grain: str = "day"
    status: str = ""
    message: str = ""
    drill_key: str = ""
    drill_label: str = ""
    drill_columns: list[str] = []
    drill_rows: list[list[str]] = []
    drill_note: str = ""
    tasks_by_kind: list[TaskLoadRow] = []
    tasks_by_person: list[TaskLoadRow] = []
    tasks_status: str = ""
    _zones: dict[str, str] = {}

    def _filters(self) -> kpi.KpiFilters:
        return kpi.KpiFilters(
            start=parse_day(self.start), end=parse_day(self.end),
            **{name: None if value == ALL else int(value)
               for name, value in (("location_id", self.location_id), ("provider_id", self.provider_id), ("payer_id", self.payer_id))},
        )

    def _today(self) -> dt.date:
        tz = self._zones.get(self.location_id) or next(iter(self._zones.values()), "America/New_York")
        return today_at(tz)

    @rx.event
    async def load(self):
        actor, redirect = await page_actor(self, "kpi.view")
        if redirect:
            return redirect
        options = await in_db(lambda s: kpi.filter_options(s, actor=actor))
        self.locations = [Option(value=ALL, label="All locations")] + [Option(str(i), n) for i, n, _ in options["locations"]]
        self.providers = [Option(value=ALL, label="All providers")] + [Option(str(i), n) for i, n, _ in options["providers"]]
        self.payers = [Option(value=ALL, label="All payers")] + [Option(str(i), n) for i, n, _ in options["payers"]]
        self._zones = {str(i): tz for i, _, tz in options["locations"]}
        for name, options_ in (("location_id", self.locations), ("provider_id", self.providers), ("payer_id", self.payers)):
            if getattr(self, name) not in {o.value for o in options_}:
                setattr(self, name, ALL)
        if not self.start or self.preset != "custom":
            self._apply_preset(self.preset)
        return await self._refresh()

    def _apply_preset(self, preset: str) -> None:
        start, end = kpi.preset_range(preset, self._today())
        self.preset, self.start, self.end = preset, start.isoformat(), end.isoformat()

    async def _figures(self) -> dict | None:
        """The figures for the filters shown, checked for this user; None (and why) if refused."""
        try:
            actor = await current_actor(self, "kpi.view")
            filters = self._filters()
            return await in_db(lambda s: kpi.range_kpis(s, actor=actor, filters=filters))
        except ClinicError as exc:
            self.message = str(exc)
            return None

    async def _refresh(self):
        figures = await self._figures()
        if figures is None:
            return None
        self.message = ""
        self.apply_kpis(figures)
        registry.show(client_token(self), "kpi", [kpi_topic(figures["key"])])
        actor = await current_actor(self, "kpi.view")
        self.apply_tasks(await in_db(lambda s: kpi.task_workload(s, actor=actor)))
        registry.show(client_token(self), KPI_TASKS, [KPI_TASKS_TOPIC])
        if self.drill_key:
            return await self._load_drill(self.drill_key)
        return None

    def apply_kpis(self, figures: dict) -> None:
        """Show a fresh set of figures (on load, after a filter change, or pushed after a visit changed)."""
        try:
            if figures.get("key") != self._filters().key():
                return
        except ClinicError:
            return
        self.tiles = _tiles(figures)
        if self.drill_key:  # a push: the rows below were listed before the change
            self.drill_note = "The figures changed after these rows were listed; choose the tile again to list them afresh."
        self.grain = figures["grain"]
        self.visits_chart = figures["visits_by_period"]
        self.provider_util = _util_rows(figures["utilisation_by_provider"], "provider")
        self.provider_chart = [{"name": r.name, "percent": r.percent} for r in self.provider_util]
        self.room_util = _util_rows(figures["utilisation_by_room"], "room")
        names = [
            next((o.label for o in options if o.value == value), "") for options, value in
            ((self.locations, self.location_id), (self.providers, self.provider_id), (self.payers, self.payer_id))
        ]
        self.status = (
            f"Showing {self.start} to {self.end}; {', '.join(n.lower() if n.startswith('All') else n for n in names)}. "
            f"Updated at {self._updated_at()}; live: the figures update when a visit in this range changes."
        )

    def apply_tasks(self, workload: dict) -> None:
        """Open and overdue tasks now (on load, or pushed after tasks changed anywhere)."""
        self.tasks_by_kind = _task_rows(workload["by_kind"])
        self.tasks_by_person = _task_rows(workload["by_person"])
        self.tasks_status = (f"{workload['open']} open tasks, {workload['overdue']} overdue (due before "
                             f"{workload['day']}); live: the tables change when a task opens, closes or is reassigned.")

    def _updated_at(self) -> str:
        """The time now in the chosen location's zone, or in UTC (labelled) for all locations."""
        now = utcnow()
        tz = self._zones.get(self.location_id)
        if tz is None:
            return f"{now:%H:%M:%S} UTC"
        return f"{local(now, tz):%H:%M:%S} {local(now, tz).tzname()}"

    @rx.var
    def provider_chart_height(self) -> int:
        """Room for every provider's bar and name (at least the chart's usual height)."""
        return max(260, 40 + 36 * len(self.provider_chart))

    @rx.event
    async def set_preset(self, value: str):
        if value not in kpi.PRESETS:
            self.message = str(InvalidInput("Choose a period from the list."))
            return None
        if value == "custom":
            self.preset = value
            return None
        self._apply_preset(value)
        return await self._refresh()

    @rx.event
    async def set_start(self, value: str):
        return await self._set_date("start", value)

    @rx.event
    async def set_end(self, value: str):
        return await self._set_date("end", value)

    async def _set_date(self, name: str, value: str):
        try:
            parse_day(value)
        except ClinicError as exc:
            self.message = str(exc)
            return None
        setattr(self, name, value)
        self.preset = "custom"
        return await self._refresh()

    async def _set_filter(self, name: str, value: str, options: list[Option], words: str):
        if value not in {o.value for o in options}:
            self.message = str(InvalidInput(f"Choose a {words} from the list."))
            return None
        setattr(self, name, value)
        if name == "location_id" and self.preset != "custom":
            self._apply_preset(self.preset)  # "today" is the chosen location's today
        return await self._refresh()

    @rx.event
    async def set_location(self, value: str):
        return await self._set_filter("location_id", value, self.locations, "location")

    @rx.event
    async def set_provider(self, value: str):
        return await self._set_filter("provider_id", value, self.providers, "provider")

    @rx.event
    async def set_payer(self, value: str):
        return await self._set_filter("payer_id", value, self.payers, "payer")

    @rx.event
    async def refresh(self):
        return await self._refresh()

    @rx.event
    async def open_drill(self, tile: str):
        return await self._load_drill(tile)

    @rx.event
    def close_drill(self):
        self.drill_key = ""
        self.drill_rows = []
        self.drill_columns = []

    async def _drill(self, tile: str, limit: int | None = None) -> list[dict]:
        actor = await current_actor(self, "kpi.view")
        filters = self._filters()
        return await in_db(lambda s: kpi.drill_down(s, actor=actor, filters=filters, tile=tile, limit=limit))

    async def _load_drill(self, tile: str):
        try:
            rows = await self._drill(tile, limit=DRILL_SHOWN + 1)
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.drill_key = tile
        self.drill_label = kpi.TILES[tile][0]
        columns = list(rows[0]) if rows else []
        self.drill_columns = [c.removesuffix("_cents").replace("_", " ") for c in columns]
        self.drill_rows = [[_cell(c, row[c]) for c in columns] for row in rows[:DRILL_SHOWN]]
        if len(rows) > DRILL_SHOWN:
            self.drill_note = f"More than {DRILL_SHOWN} rows: the first {DRILL_SHOWN} are shown; the CSV has them all."
        else:
            self.drill_note = f"{len(rows)} {'row' if len(rows) == 1 else 'rows'}." if rows else "No rows: nothing counts towards this figure."
        return None

    @rx.event
    async def download_drill(self):
        if not self.drill_key:
            return None
        try:
            rows = await self._drill(self.drill_key)
        except ClinicError as exc:
            self.message = str(exc)
            return None
        name = f"kpi-{self.drill_key.replace('_', '-')}-{self.start}-to-{self.end}.csv"
        return rx.download(data=kpi.to_csv(rows), filename=name, mime_type="text/csv")

    @rx.event
    async def download_table(self, table: str):
        if table not in kpi.TABLES:
            self.message = str(InvalidInput("That table does not exist; reload the page."))
            return None
        figures = await self._figures()
        if figures is None:
            return None
        filename, _ = kpi.TABLES[table]
        return rx.download(data=kpi.table_csv(table, figures[table]), filename=f"kpi-{filename}-{self.start}-to-{self.end}.csv",
                           mime_type="text/csv")


def _filters_of(topic: str) -> kpi.KpiFilters | None:
    try:
        return kpi.KpiFilters.from_key(topic.removeprefix(KPI_PREFIX))
    except ValueError:  # not a range this version writes: never let it stop the other pushes
        return None


def _kpi_topics(event: AppointmentChanged) -> list[str]:
    """The KPI dashboards in view on this worker whose range and filters hold the visit."""
    return [
        topic for topic in registry.topics_with_prefix(KPI_PREFIX)
        if (filters := _filters_of(topic)) is not None
        and filters.covers(location_id=event.location_id, provider_id=event.provider_id, day=event.day)
    ]


def _all_kpi_topics(_event: ClaimsChanged) -> list[str]:
    """Payments, claims and remittances move the money tiles of any range: every dashboard in view."""
    return [t for t in registry.topics_with_prefix(KPI_PREFIX) if _filters_of(t) is not None]


def _kpis(_event: AppointmentChanged | ClaimsChanged, topic: str) -> dict:
    # Once per change and distinct set of filters on this worker, whatever the number of screens.
    with session_scope() as session:
        return kpi.compute_range_kpis(session, kpi.KpiFilters.from_key(topic.removeprefix(KPI_PREFIX)))


register(Surface("kpi", _kpi_topics, _kpis, KpiState, "apply_kpis", per_topic=True))
register(Surface("kpi_money", _all_kpi_topics, _kpis, KpiState, "apply_kpis", per_topic=True, event_type=ClaimsChanged))


def _task_workload(_event: TasksChanged) -> dict:
    # Once per change on this worker, whatever the number of dashboards.
    with session_scope() as session:
        return kpi.compute_task_workload(session)


register(Surface(KPI_TASKS, lambda e: KPI_TASKS_TOPIC, _task_workload, KpiState, "apply_tasks", event_type=TasksChanged))
