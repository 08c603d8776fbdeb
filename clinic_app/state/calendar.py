"""The reception calendar board: one location's day, providers as columns, live."""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx

from clinic_app.db import utcnow
from clinic_app.live import registry
from clinic_app.live.events import board_topic
from clinic_app.services import board, scheduling
from clinic_app.services.clock import at_local, local, parse_day
from clinic_app.services.errors import ClinicError, InvalidInput
from clinic_app.services.permissions import allowed
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import Option, in_db, today_at
from clinic_app.state.live_push import client_token

DAY_START = 7 * 60  # the board shows 07:00-20:00 in the location's time
DAY_END = 20 * 60
SLOT = 15
MAX_OVERLAY = 60  # past this many live status changes, fold them into the cards


@dataclasses.dataclass
class Card:
    """An appointment on the board."""

    id: int
    key: str
    patient_name: str
    type_name: str
    color: str
    room_name: str
    start_label: str
    end_label: str
    status: str
    status_label: str
    provider_id: int
    grid_column: str
    grid_row: str
    released: bool


@dataclasses.dataclass
class Slot:
    """A free, bookable 15-minute cell."""

    provider_id: int
    time: str
    label: str
    grid_column: str
    grid_row: str


@dataclasses.dataclass
class Column:
    """A provider's column header."""

    id: int
    name: str
    grid_column: str


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


def _row(minute: int) -> int:
    return (minute - DAY_START) // SLOT + 2  # row 1 holds the provider names


class CalendarState(rx.State):
    """What one reception board shows; changes pushed by the live layer."""

    location_id: str = ""
    day: str = ""
    locations: list[Option] = []
    columns: list[Column] = []
    hours: list[Hour] = [
        Hour(label=f"{m // 60:02d}:00", grid_row=f"{_row(m)} / span 4") for m in range(DAY_START, DAY_END, 60)
    ]
    cards: list[Card] = []
    # Status changes pushed since the cards were last sent whole: id -> status / label.
    # A check-in or a signature then costs each board a few bytes, not every card.
    live_status: dict[str, str] = {}
    live_label: dict[str, str] = {}
    slots: list[Slot] = []
    rooms: list[Option] = []
    types: list[Option] = []
    providers: list[Option] = []
    message: str = ""
    message_is_error: bool = False
    can_book: bool = False

    # The selected appointment's details panel (its status comes from the overlay too).
    selected_id: int = 0
    selected: Card | None = None
    cancel_reason: str = ""

    # The booking form.
    booking_open: bool = False
    form_provider_id: str = ""
    form_time: str = ""
    form_type_id: str = ""
    form_room_id: str = ""
    patient_query: str = ""
    patient_hits: list[PatientHit] = []
    form_patient_id: int = 0
    form_patient_label: str = ""

    _tz: str = "UTC"
    _provider_columns: dict[int, int] = {}
    # id -> (grid row, grid column, released, status): where each card sits, so a push
    # decides without walking the cards (each access of a state list goes through a proxy).
    _index: dict[int, tuple[str, str, bool, str]] = {}

    # -- loading -------------------------------------------------------------
    @rx.event
    async def load(self):
        """on_load: the signed-in user's location, today, unless the URL asks otherwise."""
        actor, redirect = await page_actor(self, "board.view")
        if redirect:
            return redirect
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
        return await self._refresh()

    async def _refresh(self):
        try:
            actor = await current_actor(self, "board.view")
            day = parse_day(self.day)
            location_id = int(self.location_id)
            view = await in_db(lambda s: board.board_day(s, actor=actor, location_id=location_id, day=day))
        except ClinicError as exc:
            return self._fail(exc)
        self._tz = view.location.timezone
        self._provider_columns = {p.id: i + 2 for i, p in enumerate(view.providers)}
        self.columns = [Column(id=p.id, name=p.name, grid_column=str(i + 2)) for i, p in enumerate(view.providers)]
        self.providers = [Option(value=str(p.id), label=p.name) for p in view.providers]
        self.rooms = [Option(value=str(r.id), label=r.name) for r in view.rooms]
        self._set_cards([c for c in (self._to_card(row) for row in view.cards) if c is not None])
        self._recompute_slots()
        registry.show(client_token(self), "board", [board_topic(int(self.location_id), self.day)])
        return None

    def _to_card(self, row: dict) -> Card | None:
        column = self._provider_columns.get(row["provider_id"])
        if column is None:
            return None
        start = max(row["start_minute"], DAY_START)
        end = min(max(row["end_minute"], start + SLOT), DAY_END)
        span = max(1, -(-(end - start) // SLOT))
        return Card(
            id=row["id"], key=str(row["id"]), patient_name=row["patient_name"], type_name=row["type_name"], color=row["color"],
            room_name=row["room_name"], start_label=row["start_label"], end_label=row["end_label"],
            status=row["status"], status_label=row["status_label"], provider_id=row["provider_id"],
            grid_column=str(column), grid_row=f"{_row(start)} / span {span}",
            released=row["status"] in ("cancelled", "no_show"),
        )

    def _recompute_slots(self) -> None:
        """Free future cells per provider; only reassigned when they change (a smaller push)."""
        busy: dict[int, list[tuple[int, int]]] = {}
        for c in self.cards:
            if not c.released:
                start, span = c.grid_row.split(" / span ")
                busy.setdefault(c.provider_id, []).append((int(start), int(start) + int(span)))
        now = local(utcnow(), self._tz)
        today = now.date().isoformat()
        earliest = now.hour * 60 + now.minute if self.day == today else (DAY_START if self.day > today else DAY_END)
        names = {col.id: col.name for col in self.columns}
        slots = []
        for provider_id, column in self._provider_columns.items():
            for minute in range(DAY_START, DAY_END, SLOT):
                row = _row(minute)
                if minute < earliest or any(a <= row < b for a, b in busy.get(provider_id, ())):
                    continue
                label = f"{minute // 60:02d}:{minute % 60:02d}"
                slots.append(
                    Slot(provider_id=provider_id, time=label, label=f"Book {label} with {names[provider_id]}",
                         grid_column=str(column), grid_row=f"{row} / span 1")
                )
        if slots != self.slots:
            self.slots = slots

    # -- pushed by the live layer -------------------------------------------
    def apply_card(self, row: dict) -> None:
        """A pushed change. A status change of a card in place only touches the small
        live_status/live_label overlay; a new, moved or released card resends the cards."""
        if row.get("day") != self.day:
            return
        new = self._to_card(row)
        old = self._index.get(row["id"])
        same_place = old is not None and new is not None and old[:3] == (new.grid_row, new.grid_column, new.released)
        if same_place and len(self.live_status) < MAX_OVERLAY:
            if old[3] != new.status:
                self._index[new.id] = (*old[:3], new.status)
                self.live_status = {**self.live_status, new.key: new.status}
                self.live_label = {**self.live_label, new.key: new.status_label}
            return
        merged = {c.id: self._overlaid(c) for c in self.cards}
        merged.pop(row["id"], None)
        if new is not None:
            merged[new.id] = new
        self._set_cards(sorted(merged.values(), key=lambda c: (c.grid_row, c.grid_column, c.id)))
        if not same_place:
            self._recompute_slots()

    def _set_cards(self, cards: list[Card]) -> None:
        """Send the cards whole (the overlay folded in) and re-index them."""
        self.cards = cards
        self.live_status, self.live_label = {}, {}
        self._index = {c.id: (c.grid_row, c.grid_column, c.released, c.status) for c in cards}
        self.selected = next((c for c in cards if c.id == self.selected_id), None)
        if self.selected is None:
            self.selected_id = 0

    def _overlaid(self, card: Card) -> Card:
        if card.key not in self.live_status:
            return card
        return dataclasses.replace(card, status=self.live_status[card.key], status_label=self.live_label[card.key])

    # -- navigation ------------------------------------------------------------
    @rx.event
    async def set_location(self, value: str):
        if value not in {o.value for o in self.locations}:
            return self._fail(InvalidInput("Choose a location from the list."))
        self.location_id = value
        self.selected_id, self.selected = 0, None
        self.booking_open = False
        return await self._refresh()

    @rx.event
    async def set_day(self, value: str):
        try:
            parse_day(value)
        except ClinicError as exc:
            return self._fail(exc)
        self.day = value
        self.selected_id, self.selected = 0, None
        return await self._refresh()

    @rx.event
    async def shift_day(self, days: int):
        try:
            day = parse_day(self.day) + dt.timedelta(days=max(-31, min(31, int(days))))
        except (ClinicError, ValueError, TypeError):
            return self._fail(InvalidInput("That request was not understood; reload the page."))
        self.day = day.isoformat()
        self.selected_id, self.selected = 0, None
        return await self._refresh()

    @rx.event
    async def go_today(self):
        self.day = today_at(self._tz).isoformat()
        self.selected_id, self.selected = 0, None
        return await self._refresh()

    # -- details and status changes -------------------------------------------
    @rx.event
    def select(self, appointment_id: int):
        try:
            wanted = as_id(appointment_id)
        except ClinicError as exc:
            return self._fail(exc)
        card = next((c for c in self.cards if c.id == wanted), None)
        if card is None:
            return self._fail(ClinicError("That appointment is no longer on this board."))
        self.selected_id, self.selected = wanted, self._overlaid(card)
        self.booking_open = False
        self.cancel_reason = ""
        self.message = ""
        return None

    @rx.event
    def close_details(self):
        self.selected_id, self.selected = 0, None

    @rx.event
    async def check_in(self, appointment_id: int):
        return await self._move(appointment_id, "arrived", "appointment.check_in", "Checked in.")

    @rx.event
    async def mark_no_show(self, appointment_id: int):
        return await self._move(appointment_id, "no_show", "appointment.no_show", "Marked as a no-show.")

    @rx.event
    async def cancel(self, appointment_id: int):
        return await self._move(appointment_id, "cancelled", "appointment.cancel", "Appointment cancelled.")

    @rx.event
    def set_cancel_reason(self, value: str):
        self.cancel_reason = str(value)[: scheduling.MAX_REASON + 1]

    async def _move(self, appointment_id, to_status: str, action: str, done: str):
        try:
            actor = await current_actor(self, action)
            appointment_id = as_id(appointment_id)
            reason = self.cancel_reason if to_status == "cancelled" else ""

            def work(session):
                scheduling.transition(
                    session, actor=actor, appointment_id=appointment_id, to_status=to_status, reason=reason
                )
                return board.card(session, appointment_id=appointment_id)

            row = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        # The bus brings the same change back; applying it now makes this desk instant.
        self.apply_card(row)
        self.cancel_reason = ""
        return self._ok(done)

    # -- booking -----------------------------------------------------------------
    @rx.event
    def open_booking(self, provider_id: int | str = "", time: str = ""):
        if not self.can_book:
            return self._fail(InvalidInput("Your role may not book appointments."))
        self.booking_open = True
        self.selected_id, self.selected = 0, None
        self.message = ""
        self.form_provider_id = str(provider_id) if provider_id else (self.providers[0].value if self.providers else "")
        self.form_time = str(time)[:5]
        if not self.form_type_id and self.types:
            self.form_type_id = next((t.value for t in self.types if t.label.startswith("Treatment")), self.types[0].value)
        return None

    @rx.event
    def close_booking(self):
        self.booking_open = False

    @rx.event
    def set_form_provider(self, value: str):
        self.form_provider_id = str(value)

    @rx.event
    def set_form_time(self, value: str):
        self.form_time = str(value)[:5]

    @rx.event
    def set_form_type(self, value: str):
        self.form_type_id = str(value)

    @rx.event
    def set_form_room(self, value: str):
        self.form_room_id = "" if value == "none" else str(value)

    @rx.event
    async def search_patients(self, text: str):
        self.patient_query = str(text)[:80]
        try:
            actor = await current_actor(self, "patient.search")
            query = self.patient_query
            hits = await in_db(lambda s: board.search_patients(s, actor=actor, text=query))
        except ClinicError as exc:
            return self._fail(exc)
        self.patient_hits = [
            PatientHit(id=p.id, label=f"{p.last_name}, {p.first_name} ({p.mrn}, born {p.birth_date.isoformat()})")
            for p in hits
        ]
        return None

    @rx.event
    def choose_patient(self, patient_id: int):
        try:
            pid = as_id(patient_id)
        except ClinicError as exc:
            return self._fail(exc)
        hit = next((h for h in self.patient_hits if h.id == pid), None)
        if hit is None:
            return self._fail(InvalidInput("Choose a patient from the search results."))
        self.form_patient_id = pid
        self.form_patient_label = hit.label
        self.patient_hits = []
        self.patient_query = ""
        return None

    @rx.event
    async def book(self):
        try:
            actor = await current_actor(self, "appointment.book")
            if not self.form_patient_id:
                raise InvalidInput("Search for the patient and choose them first.")
            if not self.form_provider_id or not self.form_type_id:
                raise InvalidInput("Choose a provider and an appointment type.")
            if not self.form_time:
                raise InvalidInput("Enter a start time, e.g. 09:30.")
            starts_at = at_local(parse_day(self.day), self.form_time, self._tz)
            booking = {
                "patient_id": self.form_patient_id,
                "provider_id": as_id(self.form_provider_id),
                "appointment_type_id": as_id(self.form_type_id),
                "room_id": as_id(self.form_room_id) if self.form_room_id else None,
                "starts_at": starts_at,
            }

            def work(session):
                appointment = scheduling.book_appointment(session, actor=actor, **booking)
                return board.card(session, appointment_id=appointment.id)

            row = await in_db(work)
        except ClinicError as exc:
            # The form keeps everything typed so the user can correct one thing.
            return self._fail(exc)
        self.apply_card(row)
        self.booking_open = False
        self.form_patient_id = 0
        self.form_patient_label = ""
        self.selected_id = row["id"]
        self.selected = self._to_card(row)
        return self._ok(f"Booked {row['patient_name']} at {row['start_label']}.")

    # -- messages ------------------------------------------------------------------
    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True

    def _ok(self, text: str):
        self.message = text
        self.message_is_error = False
