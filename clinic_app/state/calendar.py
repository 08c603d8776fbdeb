"""The reception calendar board: one location's day or week, live, with a side panel.

``CalendarState`` is the board's screen: where and what it shows (location, day, view,
filters), the loaded cards and the side panel's choice. Each part of the side panel is a
``Section`` substate of it, with its own message beside its own controls: the visit's
details and actions (state/visit.py), booking, series and waitlist (state/booking.py), move
and drag (state/move.py), the series move (state/series_move.py), copay (state/copay.py),
hours (state/hours.py) and merge (state/merge.py); registration keeps its own state
(state/registration.py) and is shown in the same panel.

The cards reach the browser as rows (services.board.CARD_FIELDS), loaded once per view; the
browser places them in the board's columns (components/board_layout.js) and follows each
live change pushed to it (live/overlay.py), so a change anywhere never touches this state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx

from clinic_app.db import session_scope, utcnow
from clinic_app.live import registry
from clinic_app.live.events import AppointmentChanged, board_topic
from clinic_app.live.overlay import overlays
from clinic_app.live.surfaces import Surface, register
from clinic_app.services.frontdesk import board
from clinic_app.services.frontdesk.board import BOARD_END, BOARD_START
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local, parse_day
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.platform.permissions import allowed
from clinic_app.state import live_push
from clinic_app.state.common import Option, in_db, today_at
from clinic_app.state.reflex_adapter import client_token
from clinic_app.state.screen import Screen

DAY_START = BOARD_START  # the board shows 07:00-20:00 in the location's time
DAY_END = BOARD_END
SLOT = 15
FIRST_ROW = 2  # grid row 1 holds the column headers
ROW_PX = 30  # one 15-minute row
HEAD_PX = 52
PANELS = ("visit", "booking", "move", "registration", "hours", "merge")


@dataclasses.dataclass
class Card:
    """A card as the browser places it (components/board_layout.js builds these)."""

    id: int
    key: str
    patient_id: int
    patient_name: str
    type_name: str
    color: str
    room_name: str
    status: str
    status_label: str
    start_label: str
    end_label: str
    day: str
    provider_id: int
    duration: int
    start_minute: int
    grid_column: str
    grid_row: str
    left: str
    width: str
    released: bool
    auth_warning: str
    in_series: bool
    online: str
    short: bool
    tall: bool
    movable: bool
    today: bool
    aria: str
    title: str


@dataclasses.dataclass
class Slot:
    """A free, bookable 15-minute cell (found in the browser)."""

    provider_id: int
    day: str
    time: str
    label: str
    grid_column: str
    grid_row: str


@dataclasses.dataclass
class Shade:
    """A span when a provider does not work, shaded on the board and not bookable."""

    label: str
    grid_column: str
    grid_row: str
    first: int
    last: int


@dataclasses.dataclass
class Column:
    """A provider's column on a day: its header, and what the browser needs to find free cells."""

    key: str  # "provider_id|day"
    provider_id: int
    day: str
    name: str
    sub: str  # the day, in the week view
    grid_column: str
    slot_prefix: str  # "Tue 15 Dec " in the week view
    earliest: int  # minute from which the column's cells are bookable (now, today)
    group_start: bool  # the first column of a day (week view)


@dataclasses.dataclass
class Hour:
    """A time label down the left side."""

    label: str
    grid_row: str


@dataclasses.dataclass
class PatientHit:
    """A patient search result."""

    id: int
    label: str


@dataclasses.dataclass
class PlannedVisit:
    """One occurrence of a planned series and its problem (empty when free)."""

    label: str
    problem: str


def _row(minute: int) -> int:
    return (minute - DAY_START) // SLOT + FIRST_ROW


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (the week view runs Monday to Sunday)."""
    return day - dt.timedelta(days=day.weekday())


def long_day(day: dt.date) -> str:
    """e.g. Sunday 14 December."""
    return f"{day:%A} {day.day} {day:%B}"


class CalendarState(Screen, rx.State):
    """What one reception board shows; live changes reach the browser without touching it."""

    _permission = "board.view"

    location_id: str = ""
    day: str = ""
    today: str = ""
    locations: list[Option] = []
    types: list[Option] = []
    providers: list[Option] = []
    rooms: list[Option] = []
    can_book: bool = False

    # What the board shows: a day (providers as columns) or a week (a column per provider
    # and day); filters by provider and room; cancelled and no-show cards or not.
    view: str = "day"
    filter_provider_id: str = ""
    filter_room_id: str = ""
    show_released: bool = True
    columns: list[Column] = []
    grid_columns: str = ""
    hours: list[Hour] = [
        Hour(label=f"{m // 60:02d}:00", grid_row=f"{_row(m)} / span 4") for m in range(DAY_START, DAY_END, 60)
    ]
    shades: list[Shade] = []
    range_label: str = ""
    # A day nobody works: said on the board, with the next open day.
    closed_note: str = ""
    next_open_day: str = ""
    next_open_label: str = ""
    # The current-time line: the columns of today, where it is now, the zone's offset.
    now_columns: str = ""
    now_top: int = 0
    utc_offset: int = 0

    # The cards as loaded (services.board.CARD_FIELDS) and the stamp taken just before
    # they were read: live rows stamped after it replace them in the browser.
    rows: list[dict] = []
    live_since: int = 0

    # The side panel: which part shows, and the visit it is about.
    panel: str = ""
    selected_id: int = 0

    _tz: str = "UTC"
    _days: list[str] = []
    _column_of: dict[str, int] = {}
    _names: dict[int, str] = {}

    # -- loading -------------------------------------------------------------------
    async def _refresh(self, actor: Actor):
        """on_load: the signed-in user's location, today, unless already chosen."""
        self.can_book = allowed(actor.role, "appointment.book")
        locations, types = await in_db(lambda s: (board.locations(s), board.appointment_types(s)))
        self.locations = [Option(value=str(loc.id), label=loc.name) for loc in locations]
        self.types = [Option(value=str(t.id), label=f"{t.name} ({t.duration_minutes} min)") for t in types]
        ids = [loc.id for loc in locations]
        if not self.location_id or int(self.location_id) not in ids:
            self.location_id = str(actor.location_id if actor.location_id in ids else ids[0])
        tz = next(loc.timezone for loc in locations if str(loc.id) == self.location_id)
        if not self.day:
            self.day = today_at(tz).isoformat()
        return await self._reload()

    def _shown_days(self) -> list[dt.date]:
        day = parse_day(self.day)
        if self.view == "week":
            monday = week_of(day)
            return [monday + dt.timedelta(days=n) for n in range(7)]
        return [day]

    async def _reload(self):
        """Read the days shown and lay out the columns (the browser places the cards)."""
        try:
            actor = await self._actor("board.view")
            days = self._shown_days()
            location_id = int(self.location_id)
            since = overlays.stamp()  # before the read: a change recorded later is newer than it
            view = await in_db(
                lambda s: board.board_day(s, actor=actor, location_id=location_id, day=days[0], days=len(days))
            )
        except ClinicError as exc:
            self._fail(exc)
            return None
        self._tz = view.location.timezone
        self.providers = [Option(value=str(p.id), label=p.name) for p in view.providers]
        self.rooms = [Option(value=str(r.id), label=r.name) for r in view.rooms]
        if self.filter_provider_id and self.filter_provider_id not in {o.value for o in self.providers}:
            self.filter_provider_id = ""
        if self.filter_room_id and self.filter_room_id not in {o.value for o in self.rooms}:
            self.filter_room_id = ""
        self._days = [d.isoformat() for d in days]
        now = local(utcnow(), self._tz)
        self.today = now.date().isoformat()
        shown = [p for p in view.providers if not self.filter_provider_id or str(p.id) == self.filter_provider_id]
        week = self.view == "week"
        pairs = [(p, d) for d in days for p in shown]
        columns = []
        for i, (p, d) in enumerate(pairs):
            day = d.isoformat()
            earliest = (now.hour * 60 + now.minute if day == self.today
                        else DAY_START if day > self.today else DAY_END)
            columns.append(Column(
                key=f"{p.id}|{day}", provider_id=p.id, day=day, name=p.name,
                sub=f"{d:%a %d %b}" if week else "", grid_column=str(i + 2),
                slot_prefix=f"{d:%a %d %b} " if week else "", earliest=earliest,
                group_start=week and (i == 0 or pairs[i - 1][1] != d),
            ))
        self.columns = columns
        self.grid_columns = f"64px repeat({len(columns)}, minmax({150 if week else 190}px, 1fr))"
        self._column_of = {c.key: int(c.grid_column) for c in columns}
        self._names = {p.id: p.name for p in view.providers}
        self.range_label = (f"Week of {days[0]:%A %d %B %Y}" if week else f"{days[0]:%A %d %B %Y}")
        self.shades = self._shades(view.blocks)
        self.rows = [board.client_row(row) for row in view.cards]
        self.live_since = since
        location_name = view.location.name
        if not week and view.closed:
            self.closed_note = f"{location_name} is closed on {long_day(days[0])}."
            self.next_open_day = view.next_open.isoformat() if view.next_open else ""
            self.next_open_label = long_day(view.next_open) if view.next_open else ""
        else:
            self.closed_note = self.next_open_day = self.next_open_label = ""
        today_columns = [int(c.grid_column) for c in columns if c.day == self.today]
        minute = now.hour * 60 + now.minute
        if today_columns and DAY_START <= minute < DAY_END:
            self.now_columns = f"{today_columns[0]} / {today_columns[-1] + 1}"
        else:
            self.now_columns = ""
        self.now_top = (minute - DAY_START) * ROW_PX // SLOT
        self.utc_offset = int(now.utcoffset().total_seconds() // 60)
        if self.selected_id and not any(r["id"] == self.selected_id for r in self.rows) and self.panel == "visit":
            self._close_panel()
        registry.show(client_token(self), "board", self._topics())
        # Once these cards have reached the browser: the room of the days' shared overlay.
        return CalendarState.join_live

    def _shades(self, blocks: list[dict]) -> list[Shade]:
        shades = []
        for b in blocks:
            column = self._column_of.get(f"{b['provider_id']}|{b['day']}")
            start, end = max(b["start_minute"], DAY_START), min(b["end_minute"], DAY_END)
            if column is None or end <= start:
                continue
            first, span = _row(start), -(-(end - start) // SLOT)
            shades.append(Shade(label=b["label"], grid_column=str(column), grid_row=f"{first} / span {span}",
                                first=first, last=first + span))
        return shades

    def _topics(self) -> list[str]:
        return [board_topic(int(self.location_id), d) for d in self._days]

    @rx.event
    async def join_live(self):
        """Receive the days' live rows (sent by live_push, not as this state's delta)."""
        live_push.join(self, self._topics())

    def column_key(self, key: str) -> tuple[int, dt.date]:
        """The provider and day of one of this board's columns ("provider|day"); InvalidInput otherwise."""
        if key not in self._column_of:
            raise InvalidInput("That column is no longer on this board; look at the board again.")
        provider, day = key.split("|")
        return int(provider), parse_day(day)

    def provider_name(self, provider_id: int) -> str:
        return self._names.get(provider_id, "")

    def location_zone(self) -> str:
        """The shown location's IANA time zone."""
        return self._tz

    # -- the side panel ---------------------------------------------------------------
    def show_panel(self, name: str, appointment_id: int = 0) -> None:
        """Show one part of the side panel; the board's message goes when the panel changes."""
        if name not in PANELS:
            raise ValueError(name)
        if (name, appointment_id) != (self.panel, self.selected_id):
            self._clear()
        self.panel = name
        self.selected_id = appointment_id

    def _close_panel(self) -> None:
        self.panel = ""
        self.selected_id = 0

    @rx.event
    def close_panel(self):
        self._close_panel()

    # -- navigation ----------------------------------------------------------------------
    async def _go(self):
        self._close_panel()
        self._clear()
        return await self._reload()

    @rx.event
    async def set_location(self, value: str):
        if value not in {o.value for o in self.locations}:
            return self._fail(InvalidInput("Choose a location from the list."))
        self.location_id = value
        return await self._go()

    @rx.event
    async def set_day(self, value: str):
        try:
            parse_day(value)
        except ClinicError as exc:
            return self._fail(exc)
        self.day = value
        return await self._go()

    @rx.event
    async def shift_day(self, days: int):
        try:
            step = max(-31, min(31, int(days))) * (7 if self.view == "week" else 1)
            day = parse_day(self.day) + dt.timedelta(days=step)
        except (ClinicError, ValueError, TypeError):
            return self._fail(InvalidInput("That request was not understood; reload the page."))
        self.day = day.isoformat()
        return await self._go()

    @rx.event
    async def go_today(self):
        self.day = today_at(self._tz).isoformat()
        return await self._go()

    @rx.event
    async def go_next_open(self):
        if not self.next_open_day:
            return self._fail(InvalidInput("No open day in the next two months; check the providers' hours."))
        self.day = self.next_open_day
        return await self._go()

    @rx.event
    async def set_view(self, value: str):
        if value not in ("day", "week"):
            return self._fail(InvalidInput("Choose the day or the week view."))
        self.view = value
        return await self._reload()

    @rx.event
    async def set_filter_provider(self, value: str):
        return await self._set_filter("filter_provider_id", value, self.providers, "provider")

    @rx.event
    async def set_filter_room(self, value: str):
        # The browser filters the cards; the free cells stay (a booking may pick the room).
        value = "" if value == "all" else str(value)
        if value and value not in {o.value for o in self.rooms}:
            return self._fail(InvalidInput("Choose a room from the list."))
        self.filter_room_id = value
        return None

    @rx.event
    def set_show_released(self, value: bool):
        self.show_released = bool(value)

    async def _set_filter(self, field: str, value: str, options: list[Option], what: str):
        """Narrow the board to one provider ("all" clears it); only listed values."""
        value = "" if value == "all" else str(value)
        if value and value not in {o.value for o in options}:
            return self._fail(InvalidInput(f"Choose a {what} from the list."))
        setattr(self, field, value)
        return await self._reload()

    # -- selecting a visit ------------------------------------------------------------------
    @rx.event
    async def select(self, appointment_id: int):
        """Open the visit's panel: its details, and what may be done with it now."""
        from clinic_app.state.visit import VisitSection

        visit = await self.get_state(VisitSection)
        return await visit.open(appointment_id)


def changed_card(event: AppointmentChanged) -> board.BoardCard:
    """The changed visit's board card: built once per change on each worker, off the event
    loop, for the boards and the clinicians' charts alike."""
    with session_scope() as session:
        return board.card(session, appointment_id=event.appointment_id)


def board_row(_event: AppointmentChanged, card: board.BoardCard) -> dict:
    """What a board draws of the changed visit (every board's browser places it in its own view)."""
    return board.client_row(card)


register(Surface("board", lambda e: board_topic(e.location_id, e.day), board_row, CalendarState, "", shared=True,
                 base=changed_card))
