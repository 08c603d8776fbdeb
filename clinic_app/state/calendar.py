"""The reception calendar board: one location's day, providers as columns, live."""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx

from clinic_app.db import utcnow
from clinic_app.live import registry
from clinic_app.live.events import board_topic
from clinic_app.live.overlay import overlays
from clinic_app.services import board, cases, recurring, scheduling, waitlist
from clinic_app.services.clock import at_local, local, parse_day
from clinic_app.services.errors import ClinicError, InvalidInput
from clinic_app.services.permissions import allowed
from clinic_app.state import live_push
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import Option, in_db, today_at
from clinic_app.state.copay import CopayState
from clinic_app.state.live_push import client_token

DAY_START = 7 * 60  # the board shows 07:00-20:00 in the location's time
DAY_END = 20 * 60
SLOT = 15


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
    day: str = ""
    room_id: int = 0
    duration: int = 30
    auth_warning: str = ""
    in_series: bool = False


@dataclasses.dataclass
class Slot:
    """A free, bookable 15-minute cell."""

    provider_id: int
    time: str
    label: str
    grid_column: str
    grid_row: str
    day: str = ""


@dataclasses.dataclass
class Shade:
    """A span when a provider does not work, shaded on the board and not bookable."""

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
class Offer:
    """A waiting patient who could take a freed slot, and why they fit."""

    entry_id: int
    patient_name: str
    why: str


@dataclasses.dataclass
class PlannedVisit:
    """One occurrence of a planned series and its problem (empty when free)."""

    label: str
    problem: str


@dataclasses.dataclass
class PatientHit:
    """A patient search result."""

    id: int
    label: str


def _row(minute: int) -> int:
    return (minute - DAY_START) // SLOT + 2  # row 1 holds the provider names


def _where(card: Card) -> tuple:
    """What a card shows besides its status: equal for two versions of a card that did
    not move and only changed status (then the small overlay carries the change)."""
    return (card.grid_row, card.grid_column, card.released, card.room_name, card.auth_warning, card.in_series,
            card.duration, card.type_name)


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (the week view runs Monday to Sunday)."""
    return day - dt.timedelta(days=day.weekday())


DURATIONS = [Option(value=str(m), label=f"{m} min") for m in (15, 20, 30, 45, 60, 75, 90, 120)]


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
    # Status changes pushed since the cards were last folded: id -> status / label, the
    # worker's shared overlay of the board's topics (live/overlay.py), sent to every board
    # of a location's day as one message. A check-in then costs a board a few bytes.
    live_status: dict[str, str] = {}
    live_label: dict[str, str] = {}
    slots: list[Slot] = []
    rooms: list[Option] = []
    types: list[Option] = []
    providers: list[Option] = []
    message: str = ""
    message_is_error: bool = False
    can_book: bool = False

    # What the board shows: one day (providers as columns) or one provider's week
    # (days as columns); filters by provider and room.
    view: str = "day"
    filter_provider_id: str = ""
    filter_room_id: str = ""
    shades: list[Shade] = []
    range_label: str = ""

    # The selected visit's front-desk times, read when it is selected (not kept on every
    # card, so that a pushed check-in stays a small status overlay).
    detail_arrived: str = ""
    detail_wait: str = ""
    detail_checked_out: str = ""
    detail_coverage: str = ""

    # The Move panel: pick a new date, time, provider and length.
    move_open: bool = False
    move_day: str = ""
    move_time: str = ""
    move_provider_id: str = ""
    move_duration: str = "30"
    move_reason: str = ""
    durations: list[Option] = DURATIONS

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
    form_day: str = ""
    form_case_id: str = ""
    case_options: list[Option] = []
    case_title: str = ""
    case_visits: str = ""
    case_end: str = ""
    # A recurring series: weekdays (Monday = 0) and how many weeks; its checked plan.
    repeat_days: list[str] = []
    repeat_weeks: str = "6"
    series_plan: list[PlannedVisit] = []
    series_has_conflicts: bool = False
    weekday_options: list[Option] = [Option(value=str(i), label=n) for i, n in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))]
    # Waitlist offers for the selected freed slot.
    offers: list[Offer] = []
    offers_loaded: bool = False

    _tz: str = "UTC"
    # Where a card goes: (provider id, day) -> grid column.
    _column_of: dict[str, int] = {}
    _names: dict[int, str] = {}
    _blocks: list[dict] = []
    _days: list[str] = []
    # id -> (where the card sits and what it shows besides its status, status): a push
    # decides from this without walking the cards (each access of a state list goes
    # through a proxy).
    _index: dict[int, tuple] = {}

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

    def _shown_days(self) -> list[dt.date]:
        day = parse_day(self.day)
        if self.view == "week":
            monday = week_of(day)
            return [monday + dt.timedelta(days=n) for n in range(7)]
        return [day]

    async def _refresh(self):
        try:
            actor = await current_actor(self, "board.view")
            days = self._shown_days()
            location_id = int(self.location_id)
            view = await in_db(
                lambda s: board.board_day(s, actor=actor, location_id=location_id, day=days[0], days=len(days))
            )
        except ClinicError as exc:
            return self._fail(exc)
        self._tz = view.location.timezone
        self.providers = [Option(value=str(p.id), label=p.name) for p in view.providers]
        self.rooms = [Option(value=str(r.id), label=r.name) for r in view.rooms]
        if self.filter_provider_id and self.filter_provider_id not in {o.value for o in self.providers}:
            self.filter_provider_id = ""
        if self.filter_room_id and self.filter_room_id not in {o.value for o in self.rooms}:
            self.filter_room_id = ""
        self._days = [d.isoformat() for d in days]
        if self.view == "week":
            # A week is one provider's: the filtered one, else the first.
            provider = next((p for p in view.providers if str(p.id) == self.filter_provider_id), None) or (
                view.providers[0] if view.providers else None
            )
            pairs = [(provider, d) for d in days] if provider else []
            self.columns = [
                Column(id=i, name=f"{d:%a %d %b}", grid_column=str(i + 2)) for i, (_, d) in enumerate(pairs)
            ]
            self.range_label = f"{provider.name if provider else 'No provider'}, week of {days[0]:%d %b %Y}"
        else:
            shown = [p for p in view.providers if not self.filter_provider_id or str(p.id) == self.filter_provider_id]
            pairs = [(p, days[0]) for p in shown]
            self.columns = [Column(id=p.id, name=p.name, grid_column=str(i + 2)) for i, (p, _) in enumerate(pairs)]
            self.range_label = f"{days[0]:%A %d %B %Y}"
        self._column_of = {f"{p.id}|{d.isoformat()}": i + 2 for i, (p, d) in enumerate(pairs)}
        self._names = {p.id: p.name for p in view.providers}
        self._blocks = view.blocks
        self._set_cards([c for c in (self._to_card(row) for row in view.cards) if c is not None])
        self._recompute_shades()
        self._recompute_slots()
        topics = self._topics()
        by_day: dict[str, list[dict]] = {}
        for row in view.cards:
            by_day.setdefault(row.get("day", ""), []).append(row)
        for day, topic in zip(self._days, topics, strict=True):
            overlays.seed(topic, by_day.get(day, []))
        registry.show(client_token(self), "board", topics)
        # Once these cards have reached the browser: the room of the topics' shared overlay.
        return CalendarState.join_live

    def _topics(self) -> list[str]:
        return [board_topic(int(self.location_id), d) for d in self._days]

    @rx.event
    async def join_live(self):
        """Receive the shared live overlay of the days shown (sent by live_push, not as this state's delta)."""
        live_push.join(self, self._topics())

    def _to_card(self, row: dict) -> Card | None:
        column = self._column_of.get(f"{row['provider_id']}|{row.get('day', '')}")
        if column is None:
            return None
        if self.filter_room_id and str(row.get("room_id", 0)) != self.filter_room_id:
            return None
        start = max(row["start_minute"], DAY_START)
        end = min(max(row["end_minute"], start + SLOT), DAY_END)
        span = max(1, -(-(end - start) // SLOT))
        return Card(
            id=row["id"], key=str(row["id"]), patient_name=row["patient_name"], type_name=row["type_name"], color=row["color"],
            room_name=row["room_name"], start_label=row["start_label"], end_label=row["end_label"],
            status=row["status"], status_label=row["status_label"], provider_id=row["provider_id"],
            grid_column=str(column), grid_row=f"{_row(start)} / span {span}",
            released=row["status"] in ("cancelled", "no_show"), day=row.get("day", ""),
            room_id=row.get("room_id", 0), duration=row.get("duration", 30), auth_warning=row.get("auth_warning", ""),
            in_series=row.get("in_series", False),
        )

    def _blocked(self) -> dict[str, list[tuple[int, int]]]:
        spans: dict[str, list[tuple[int, int]]] = {}
        for b in self._blocks:
            spans.setdefault(f"{b['provider_id']}|{b['day']}", []).append((b["start_minute"], b["end_minute"]))
        return spans

    def _recompute_shades(self) -> None:
        shades = []
        for b in self._blocks:
            column = self._column_of.get(f"{b['provider_id']}|{b['day']}")
            start, end = max(b["start_minute"], DAY_START), min(b["end_minute"], DAY_END)
            if column is None or end <= start:
                continue
            span = -(-(end - start) // SLOT)
            shades.append(Shade(label=b["label"], grid_column=str(column), grid_row=f"{_row(start)} / span {span}"))
        self.shades = shades

    def _recompute_slots(self) -> None:
        """Free future cells per column; only reassigned when they change (a smaller push)."""
        busy: dict[int, list[tuple[int, int]]] = {}
        for c in self.cards:
            if not c.released:
                start, span = c.grid_row.split(" / span ")
                busy.setdefault(int(c.grid_column), []).append((int(start), int(start) + int(span)))
        now = local(utcnow(), self._tz)
        today = now.date().isoformat()
        blocked = self._blocked()
        slots = []
        for key, column in self._column_of.items():
            provider_id, day = key.split("|")
            earliest = now.hour * 60 + now.minute if day == today else (DAY_START if day > today else DAY_END)
            off = blocked.get(key, ())
            name = self._names.get(int(provider_id), "")
            for minute in range(DAY_START, DAY_END, SLOT):
                row = _row(minute)
                if minute < earliest or any(a <= row < b for a, b in busy.get(column, ())):
                    continue
                if any(a < minute + SLOT and minute < b for a, b in off):
                    continue
                label = f"{minute // 60:02d}:{minute % 60:02d}"
                when = label if self.view == "day" else f"{dt.date.fromisoformat(day):%a %d %b} {label}"
                slots.append(
                    Slot(provider_id=int(provider_id), time=label, label=f"Book {when} with {name}",
                         grid_column=str(column), grid_row=f"{row} / span 1", day=day)
                )
        if slots != self.slots:
            self.slots = slots

    # -- pushed by the live layer -------------------------------------------
    def apply_card(self, row: dict, fold: dict | None = None) -> None:
        """A pushed change the shared overlay does not carry alone (live_push): a new, moved,
        resized or released card, or one moved out of this view, resends the cards; a status
        change in place only the overlay. ``fold``: a topic's overlay that was just emptied,
        folded into the cards first."""
        if fold:
            self._set_cards([self._overlaid(c, fold) for c in self.cards])
        new = self._to_card(row) if row.get("day") in self._days else None
        old = self._index.get(row["id"])
        status, label = overlays.union(self._topics())
        self.live_status, self.live_label = status, label
        if new is None and old is None:
            return
        if old is not None and new is not None and old[:-1] == _where(new):
            self._index[new.id] = (*old[:-1], new.status)
            return
        now = {key: (value, label[key]) for key, value in status.items()}
        merged = {c.id: self._overlaid(c, now) for c in self.cards}
        merged.pop(row["id"], None)
        if new is not None:
            merged[new.id] = new
        self._set_cards(sorted(merged.values(), key=lambda c: (c.grid_row, c.grid_column, c.id)))
        self._recompute_slots()

    def _apply_own(self, row: dict) -> None:
        """This desk's own change. The bus brings the same change back; applying it now makes
        this desk instant. The overlay this desk is sent must hold the change (it is newer than
        what the worker had), or a push that went out first would be overwritten by an older one."""
        if row.get("day") in self._days:
            overlays.note_status(board_topic(int(self.location_id), row["day"]), row)
        self.apply_card(row)

    def _set_cards(self, cards: list[Card]) -> None:
        """Send the cards whole and re-index them (the browser keeps its overlay)."""
        self.cards = cards
        self._index = {c.id: (*_where(c), c.status) for c in cards}
        self.selected = next((c for c in cards if c.id == self.selected_id), None)
        if self.selected is None:
            self.selected_id = 0

    def _overlaid(self, card: Card, overlay: dict | None = None) -> Card:
        """``card`` with the status the overlay holds for it (the worker's, by default)."""
        if overlay is None:
            status, label = overlays.union(self._topics())
            overlay = {key: (value, label[key]) for key, value in status.items()}
        if card.key not in overlay:
            return card
        status, label = overlay[card.key]
        return dataclasses.replace(card, status=status, status_label=label)

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
            step = max(-31, min(31, int(days))) * (7 if self.view == "week" else 1)
            day = parse_day(self.day) + dt.timedelta(days=step)
        except (ClinicError, ValueError, TypeError):
            return self._fail(InvalidInput("That request was not understood; reload the page."))
        self.day = day.isoformat()
        self.selected_id, self.selected = 0, None
        return await self._refresh()

    @rx.event
    async def set_view(self, value: str):
        if value not in ("day", "week"):
            return self._fail(InvalidInput("Choose the day or the week view."))
        self.view = value
        self.selected_id, self.selected = 0, None
        return await self._refresh()

    @rx.event
    async def set_filter_provider(self, value: str):
        return await self._set_filter("filter_provider_id", value, self.providers, "provider")

    @rx.event
    async def set_filter_room(self, value: str):
        return await self._set_filter("filter_room_id", value, self.rooms, "room")

    async def _set_filter(self, field: str, value: str, options: list[Option], what: str):
        """Narrow the board to one provider or room ("all" clears it); only listed values."""
        value = "" if value == "all" else str(value)
        if value and value not in {o.value for o in options}:
            return self._fail(InvalidInput(f"Choose a {what} from the list."))
        setattr(self, field, value)
        return await self._refresh()

    @rx.event
    async def go_today(self):
        self.day = today_at(self._tz).isoformat()
        self.selected_id, self.selected = 0, None
        return await self._refresh()

    # -- details and status changes -------------------------------------------
    def _show_details(self, row: dict) -> None:
        self.detail_arrived = row.get("arrived_label", "")
        wait = row.get("wait_minutes", -1)
        self.detail_wait = f"{wait} min" if wait >= 0 else ""
        self.detail_checked_out = row.get("checked_out_label", "")

    @rx.event
    async def select(self, appointment_id: int):
        try:
            wanted = as_id(appointment_id)
        except ClinicError as exc:
            return self._fail(exc)
        card = next((c for c in self.cards if c.id == wanted), None)
        if card is None:
            return self._fail(ClinicError("That appointment is no longer on this board."))
        self.selected_id, self.selected = wanted, self._overlaid(card)
        self.booking_open = False
        self.move_open = False
        self.offers = []
        self.offers_loaded = False
        self.cancel_reason = ""
        self.message = ""
        try:
            row, self.detail_coverage = await in_db(
                lambda s: (board.card(s, appointment_id=wanted), board.coverage_label(s, appointment_id=wanted))
            )
        except ClinicError as exc:
            return self._fail(exc)
        self._show_details(row)
        return CopayState.load(wanted)

    @rx.event
    def close_details(self):
        self.selected_id, self.selected = 0, None
        self.move_open = False

    @rx.event
    async def check_out(self, appointment_id: int):
        try:
            actor = await current_actor(self, "appointment.check_in")
            appointment_id = as_id(appointment_id)

            def work(session):
                scheduling.check_out(session, actor=actor, appointment_id=appointment_id)
                return board.card(session, appointment_id=appointment_id)

            row = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self._apply_own(row)
        self._show_details(row)
        return self._ok(f"Checked out at {row['checked_out_label']}.")

    # -- moving (reschedule) ---------------------------------------------------------
    @rx.event
    def open_move(self, appointment_id: int):
        card = next((c for c in self.cards if c.id == appointment_id), None)
        if card is None or not self.can_book:
            return self._fail(InvalidInput("Choose a booked appointment to move."))
        self.move_open = True
        self.move_day = card.day
        self.move_time = card.start_label
        self.move_provider_id = str(card.provider_id)
        self.move_duration = str(card.duration)
        if card.duration not in {int(o.value) for o in self.durations}:
            self.durations = sorted([*DURATIONS, Option(value=str(card.duration), label=f"{card.duration} min")],
                                    key=lambda o: int(o.value))
        self.move_reason = ""
        self.message = ""
        return None

    @rx.event
    def close_move(self):
        self.move_open = False

    @rx.event
    def set_move_day(self, value: str):
        self.move_day = str(value)[:10]

    @rx.event
    def set_move_time(self, value: str):
        self.move_time = str(value)[:5]

    @rx.event
    def set_move_provider(self, value: str):
        self.move_provider_id = str(value)

    @rx.event
    def set_move_duration(self, value: str):
        self.move_duration = str(value)

    @rx.event
    def set_move_reason(self, value: str):
        self.move_reason = str(value)[: scheduling.MAX_REASON + 1]

    def _move_choice(self) -> int:
        """The Move panel's length in minutes, after checking a visit and a time are chosen."""
        if not self.selected_id:
            raise InvalidInput("Choose the appointment to move.")
        if not self.move_time:
            raise InvalidInput("Enter the new start time, e.g. 10:30.")
        try:
            return int(self.move_duration)
        except ValueError as exc:
            raise InvalidInput("Choose a length from the list.") from exc

    @rx.event
    async def save_move(self):
        try:
            actor = await current_actor(self, "appointment.reschedule")
            minutes = self._move_choice()
            starts_at = at_local(parse_day(self.move_day), self.move_time, self._tz)
            move = {
                "appointment_id": self.selected_id, "starts_at": starts_at, "provider_id": as_id(self.move_provider_id),
                "duration_minutes": minutes, "reason": self.move_reason,
            }

            def work(session):
                appointment = scheduling.reschedule(session, actor=actor, **move)
                return board.card(session, appointment_id=appointment.id)

            row = await in_db(work)
        except ClinicError as exc:
            # The panel keeps what was picked, so one thing can be corrected.
            return self._fail(exc)
        self._apply_own(row)
        self.move_open = False
        return self._ok(f"Moved {row['patient_name']} to {row['day']} {row['start_label']}-{row['end_label']}.")

    @rx.event
    async def check_in(self, appointment_id: int):
        await self._move(appointment_id, "arrived", "appointment.check_in", "Checked in.")
        if self.message_is_error:
            return None
        # The copay due is shown, and said, at the moment of check-in.
        return CopayState.load(appointment_id, True)

    @rx.event
    async def mark_no_show(self, appointment_id: int):
        return await self._move(appointment_id, "no_show", "appointment.no_show", "Marked as a no-show.")

    @rx.event
    async def cancel(self, appointment_id: int):
        return await self._move(appointment_id, "cancelled", "appointment.cancel", "Appointment cancelled.")

    @rx.event
    async def cancel_following(self, appointment_id: int):
        try:
            actor = await current_actor(self, "appointment.cancel")
            appointment_id, reason = as_id(appointment_id), self.cancel_reason

            def work(session):
                done = recurring.cancel_following(session, actor=actor, appointment_id=appointment_id, reason=reason)
                return [board.card(session, appointment_id=a.id) for a in done]

            rows = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        for row in rows:
            self._apply_own(row)
        self.cancel_reason = ""
        return self._ok(f"Cancelled {len(rows)} visits of the series, from {rows[0]['day']} on.")

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
        self._apply_own(row)
        self._show_details(row)
        self.cancel_reason = ""
        return self._ok(done)

    # -- booking -----------------------------------------------------------------
    @rx.event
    def open_booking(self, provider_id: int | str = "", time: str = "", day: str = ""):
        return self._open_booking(provider_id, time, day)

    def _open_booking(self, provider_id: int | str = "", time: str = "", day: str = ""):
        if not self.can_book:
            return self._fail(InvalidInput("Your role may not book appointments."))
        self.booking_open = True
        self.selected_id, self.selected = 0, None
        self.message = ""
        self.form_provider_id = str(provider_id) if provider_id else (self.providers[0].value if self.providers else "")
        self.form_time = str(time)[:5]
        self.form_day = str(day)[:10] if day else self.day
        self.move_open = False
        if self.filter_room_id and not self.form_room_id:
            self.form_room_id = self.filter_room_id
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
    def set_form_day(self, value: str):
        self.form_day = str(value)[:10]

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
    async def choose_patient(self, patient_id: int):
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
        await self._load_cases()
        return None

    async def _load_cases(self) -> None:
        self.form_case_id = ""
        self.series_plan = []
        patient_id = self.form_patient_id

        def work(session):
            return [
                Option(value=str(c.id), label=f"{c.title}" + (
                    f" ({cases.used_visits(session, case_id=c.id)} of {c.authorized_visits} visits used)"
                    if c.authorized_visits is not None else ""))
                for c in cases.cases_of(session, patient_id=patient_id)
            ]

        self.case_options = await in_db(work)

    @rx.event
    def set_case_field(self, name: str, value: str):
        if name in ("case_title", "case_visits", "case_end"):
            setattr(self, name, str(value)[:120])

    @rx.event
    async def open_case(self):
        try:
            actor = await current_actor(self, "patient.register")
            if not self.form_patient_id:
                raise InvalidInput("Search for the patient and choose them first.")
            try:
                visits = int(self.case_visits) if self.case_visits.strip() else None
            except ValueError as exc:
                raise InvalidInput("Authorised visits must be a whole number, e.g. 12.") from exc
            episode = {
                "patient_id": self.form_patient_id, "title": self.case_title, "authorized_visits": visits,
                "auth_start": parse_day(self.form_day or self.day),
                "auth_end": parse_day(self.case_end) if self.case_end else None,
            }
            case_id = await in_db(lambda s: cases.open_case(s, actor=actor, **episode).id)
        except ClinicError as exc:
            return self._fail(exc)
        await self._load_cases()
        self.form_case_id = str(case_id)
        self.case_title = self.case_visits = self.case_end = ""
        return self._ok("Episode of care opened; this booking will count against it.")

    @rx.event
    def set_form_case(self, value: str):
        self.form_case_id = "" if value == "none" else str(value)

    # -- recurring series ----------------------------------------------------------
    @rx.event
    def toggle_repeat_day(self, day: str, on: bool):
        try:
            number = int(day)
        except ValueError:
            return self._fail(InvalidInput("Choose a day of the week."))
        days = {d for d in self.repeat_days if d != str(number)}
        if on and 0 <= number <= 6:
            days.add(str(number))
        self.repeat_days = sorted(days)
        self.series_plan = []
        return None

    @rx.event
    def set_repeat_weeks(self, value: str):
        self.repeat_weeks = str(value)[:2]
        self.series_plan = []

    def _series_args(self, actor) -> dict:
        if not self.form_patient_id:
            raise InvalidInput("Search for the patient and choose them first.")
        if not self.form_provider_id or not self.form_type_id or not self.form_time:
            raise InvalidInput("Choose a provider, a start time and an appointment type.")
        try:
            weeks = int(self.repeat_weeks)
        except ValueError as exc:
            raise InvalidInput("Enter the number of weeks, e.g. 6.") from exc
        return {
            "actor": actor, "patient_id": self.form_patient_id, "provider_id": as_id(self.form_provider_id),
            "appointment_type_id": as_id(self.form_type_id), "first_day": parse_day(self.form_day or self.day),
            "time": self.form_time, "weekdays": [int(d) for d in self.repeat_days], "weeks": weeks,
            "room_id": as_id(self.form_room_id) if self.form_room_id else None,
        }

    @rx.event
    async def check_series(self):
        """Show every occurrence with its clash before anything is saved."""
        try:
            actor = await current_actor(self, "appointment.book")
            args = self._series_args(actor)
            plan = await in_db(lambda s: recurring.plan_series(s, **args))
        except ClinicError as exc:
            return self._fail(exc)
        self.series_plan = [PlannedVisit(label=o.label, problem=o.problem) for o in plan]
        bad = sum(1 for o in plan if not o.ok)
        self.series_has_conflicts = bad > 0
        if bad:
            return self._fail(InvalidInput(f"{bad} of {len(plan)} visits cannot be booked; see the list."))
        return self._ok(f"All {len(plan)} visits are free.")

    @rx.event
    async def book_series(self, skip_conflicts: bool = False):
        try:
            actor = await current_actor(self, "appointment.book")
            args = self._series_args(actor)

            def work(session):
                _, booked, skipped = recurring.book_series(session, **args, skip_conflicts=bool(skip_conflicts))
                return [board.card(session, appointment_id=a.id) for a in booked], skipped

            rows, skipped = await in_db(work)
        except recurring.SeriesConflict as exc:
            self.series_plan = [PlannedVisit(label=o.label, problem=o.problem) for o in exc.occurrences]
            self.series_has_conflicts = True
            return self._fail(exc)
        except ClinicError as exc:
            return self._fail(exc)
        for row in rows:
            self._apply_own(row)
        self.booking_open = False
        self.series_plan = []
        self.repeat_days = []
        skipped_text = f"; skipped {', '.join(o.label for o in skipped)}" if skipped else ""
        return self._ok(f"Booked a series of {len(rows)} visits{skipped_text}.")

    # -- waitlist ----------------------------------------------------------------------
    @rx.event
    async def add_to_waitlist(self):
        try:
            actor = await current_actor(self, "appointment.book")
            if not self.form_patient_id or not self.form_type_id:
                raise InvalidInput("Choose the patient and the appointment type first.")
            first = parse_day(self.form_day or self.day)
            entry = {
                "patient_id": self.form_patient_id, "location_id": int(self.location_id),
                "appointment_type_id": as_id(self.form_type_id),
                "provider_id": as_id(self.form_provider_id) if self.form_provider_id else None,
                "earliest_day": first, "latest_day": first + dt.timedelta(days=14),
            }
            await in_db(lambda s: waitlist.add_to_waitlist(s, actor=actor, **entry))
        except ClinicError as exc:
            return self._fail(exc)
        self.booking_open = False
        return self._ok(f"{self.form_patient_label} is on the waitlist for the next two weeks.")

    @rx.event
    async def load_offers(self, appointment_id: int):
        try:
            actor = await current_actor(self, "appointment.book")
            freed_id = as_id(appointment_id)
            found = await in_db(lambda s: waitlist.offers_for_slot(s, actor=actor, appointment_id=freed_id))
        except ClinicError as exc:
            return self._fail(exc)
        self.offers = [Offer(entry_id=o["entry_id"], patient_name=o["patient_name"], why=o["why"]) for o in found]
        self.offers_loaded = True
        return None

    @rx.event
    async def book_offer(self, entry_id: int):
        try:
            actor = await current_actor(self, "appointment.book")
            entry_id, freed_id = as_id(entry_id), self.selected_id

            def work(session):
                appointment = waitlist.book_offer(session, actor=actor, entry_id=entry_id, freed_appointment_id=freed_id)
                return board.card(session, appointment_id=appointment.id)

            row = await in_db(work)
        except ClinicError as exc:
            return self._fail(exc)
        self._apply_own(row)
        self.offers = []
        self.offers_loaded = False
        card = self._to_card(row)
        self.selected_id, self.selected = (card.id, card) if card else (0, None)
        return self._ok(f"Booked {row['patient_name']} at {row['start_label']} from the waitlist.")

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
            starts_at = at_local(parse_day(self.form_day or self.day), self.form_time, self._tz)
            booking = {
                "patient_id": self.form_patient_id,
                "provider_id": as_id(self.form_provider_id),
                "appointment_type_id": as_id(self.form_type_id),
                "room_id": as_id(self.form_room_id) if self.form_room_id else None,
                "starts_at": starts_at,
                "case_id": as_id(self.form_case_id) if self.form_case_id else None,
            }

            def work(session):
                appointment = scheduling.book_appointment(session, actor=actor, **booking)
                return board.card(session, appointment_id=appointment.id)

            row = await in_db(work)
        except ClinicError as exc:
            # The form keeps everything typed so the user can correct one thing.
            return self._fail(exc)
        self._apply_own(row)
        self.booking_open = False
        self.form_patient_id = 0
        self.form_patient_label = ""
        self.selected_id = row["id"]
        self.selected = self._to_card(row)
        return self._ok(f"Booked {row['patient_name']} at {row['start_label']}.")

    async def choose_registered(self, patient_id: int, label: str) -> None:
        """A patient just registered: open the booking form with them chosen."""
        self._open_booking()
        self.form_patient_id = patient_id
        self.form_patient_label = label
        self.case_options = []
        self.form_case_id = ""

    # -- messages ------------------------------------------------------------------
    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True

    def _ok(self, text: str):
        self.message = text
        self.message_is_error = False
