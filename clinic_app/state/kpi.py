"""The manager's dashboard: one location's day in numbers, live."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.events import kpi_topic
from clinic_app.models import Location
from clinic_app.services import board, kpi
from clinic_app.services.clock import parse_day
from clinic_app.services.errors import ClinicError, InvalidInput
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import Option, money, today_at
from clinic_app.state.live_push import client_token


@dataclasses.dataclass
class StatusCount:
    status: str
    label: str
    count: int


class KpiState(rx.State):
    """One dashboard."""

    location_id: str = ""
    day: str = ""
    locations: list[Option] = []
    by_status: list[StatusCount] = []
    scheduled: int = 0
    no_show_rate: str = "-"
    awaiting_signature: int = 0
    median_lag: str = "-"
    charges: str = "0.00"
    message: str = ""

    @rx.event
    async def load(self):
        actor, redirect = await page_actor(self, "kpi.view")
        if redirect:
            return redirect
        with session_scope() as session:
            locations = board.locations(session)
        self.locations = [Option(value=str(loc.id), label=loc.name) for loc in locations]
        if self.location_id not in {o.value for o in self.locations}:
            ids = [loc.id for loc in locations]
            self.location_id = str(actor.location_id if actor.location_id in ids else ids[0])
        if not self.day:
            tz = next(loc.timezone for loc in locations if str(loc.id) == self.location_id)
            self.day = today_at(tz).isoformat()
        return await self._refresh()

    async def _refresh(self):
        try:
            actor = await current_actor(self, "kpi.view")
            with session_scope() as session:
                figures = kpi.day_kpis(session, actor=actor, location_id=as_id(self.location_id), day=parse_day(self.day))
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.message = ""
        self.apply_kpis(figures)
        registry.show(client_token(self), "kpi", [kpi_topic(int(self.location_id), self.day)])
        return None

    def apply_kpis(self, figures: dict) -> None:
        """Show a fresh set of figures (on load, or pushed after a change)."""
        if figures.get("day") != self.day:
            return
        self.by_status = [StatusCount(**s) for s in figures["by_status"]]
        self.scheduled = figures["scheduled"]
        rate = figures["no_show_rate"]
        self.no_show_rate = "-" if rate is None else f"{rate * 100:.1f}%"
        self.awaiting_signature = figures["awaiting_signature"]
        lag = figures["median_lag_minutes"]
        self.median_lag = "-" if lag is None else f"{lag:.0f} min"
        self.charges = money(figures["charges_cents"])

    @rx.event
    async def set_location(self, value: str):
        if value not in {o.value for o in self.locations}:
            self.message = str(InvalidInput("Choose a location from the list."))
            return None
        self.location_id = value
        with session_scope() as session:
            self.day = today_at(session.get(Location, int(value)).timezone).isoformat()
        return await self._refresh()

    @rx.event
    async def set_day(self, value: str):
        try:
            parse_day(value)
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.day = value
        return await self._refresh()
