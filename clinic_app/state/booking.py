"""Booking in the board's side panel: one visit, a weekly series, or the waitlist instead,
and offering a freed slot to the waitlist. Every form opens fresh: no patient, room or
episode is left over from its last use."""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx

from clinic_app.services.frontdesk import board, cases, recurring, scheduling, waitlist
from clinic_app.services.platform.clock import at_local, parse_day, parse_time
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.state.auth import as_id
from clinic_app.state.calendar import CalendarState, PatientHit, PlannedVisit
from clinic_app.state.common import Option, in_db
from clinic_app.state.screen import FAILED, Section

WEEKDAYS = [Option(value=str(i), label=n) for i, n in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))]


@dataclasses.dataclass
class Offer:
    """A waiting patient who could take a freed slot, and why they fit."""

    entry_id: int
    patient_name: str
    why: str


class BookingSection(Section, CalendarState):
    """The booking form: patient, provider, day, start time, type, room, episode."""

    provider_id: str = ""
    book_day: str = ""
    time: str = ""
    type_id: str = ""
    room_id: str = ""
    query: str = ""
    hits: list[PatientHit] = []
    searched: str = ""  # the text the hits answer (for "no patient matches")
    patient_id: int = 0
    patient_label: str = ""
    case_id: str = ""
    case_options: list[Option] = []
    case_title: str = ""
    case_visits: str = ""
    case_end: str = ""

    @rx.event
    async def open(self, provider_id: int | str = "", time: str = "", day: str = ""):
        """Open the form fresh: a free slot's provider, day and time, nothing else kept."""
        return await self._open(provider_id, time, day)

    async def _open(self, provider_id: int | str = "", time: str = "", day: str = ""):
        screen = await self.get_state(CalendarState)
        if not screen.can_book:
            return screen._fail(InvalidInput("Your role may not book appointments."))
        screen.show_panel("booking")
        self._clear()
        self.provider_id = str(provider_id) if provider_id else (screen.providers[0].value if screen.providers else "")
        self.time = str(time)[:5]
        self.book_day = str(day)[:10] if day else screen.day
        self.room_id = screen.filter_room_id
        self.type_id = next((t.value for t in screen.types if t.label.startswith("Treatment")),
                            screen.types[0].value if screen.types else "")
        self.query, self.hits, self.searched = "", [], ""
        self.patient_id, self.patient_label = 0, ""
        self.case_id, self.case_options, self.case_title, self.case_visits, self.case_end = "", [], "", "", ""
        series = await self.get_state(SeriesSection)
        series._reset()
        return None

    @rx.event
    async def close(self):
        screen = await self.get_state(CalendarState)
        screen._close_panel()

    @rx.event
    def set_provider(self, value: str):
        self.provider_id = str(value)

    @rx.event
    def set_day(self, value: str):
        self.book_day = str(value)[:10]

    @rx.event
    def set_time(self, value: str):
        self.time = str(value)[:8]

    @rx.event
    def set_type(self, value: str):
        self.type_id = str(value)

    @rx.event
    def set_room(self, value: str):
        self.room_id = "" if value == "none" else str(value)

    @rx.event
    async def search_patients(self, text: str):
        self.query = str(text)[:80]
        query = self.query
        found = await self._act("patient.search", lambda s, a: board.search_patients(s, actor=a, text=query))
        if found is FAILED:
            return None
        self.hits = [PatientHit(id=p.id, label=f"{p.last_name}, {p.first_name} ({p.mrn}, born {p.birth_date.isoformat()})")
                     for p in found]
        self.searched = query.strip() if len(query.strip()) >= 2 else ""
        return None

    @rx.event
    async def choose_patient(self, patient_id: int):
        try:
            pid = as_id(patient_id)
        except ClinicError as exc:
            return self._fail(exc)
        hit = next((h for h in self.hits if h.id == pid), None)
        if hit is None:
            return self._fail(InvalidInput("Choose a patient from the search results."))
        self.patient_id, self.patient_label = pid, hit.label
        self.hits, self.query, self.searched = [], "", ""
        self._clear()
        await self._load_cases()
        return None

    async def _load_cases(self) -> None:
        self.case_id = ""
        patient_id = self.patient_id

        def work(session):
            return [
                Option(value=str(c.id), label=f"{c.title}" + (
                    f" ({cases.used_visits(session, case_id=c.id)} of {c.authorized_visits} visits used)"
                    if c.authorized_visits is not None else ""))
                for c in cases.cases_of(session, patient_id=patient_id)
            ]

        self.case_options = await in_db(work)

    async def choose_registered(self, patient_id: int, label: str) -> None:
        """A patient just registered: the booking form opens with them chosen."""
        screen = await self.get_state(CalendarState)
        await self._open(screen.providers[0].value if screen.providers else "", "", screen.day)
        self.patient_id, self.patient_label = patient_id, label

    @rx.event
    def set_case_field(self, name: str, value: str):
        if name in ("case_title", "case_visits", "case_end"):
            setattr(self, name, str(value)[:120])

    @rx.event
    def set_case(self, value: str):
        self.case_id = "" if value == "none" else str(value)

    @rx.event
    async def open_case(self):
        patient_id, title, visits_text, end = self.patient_id, self.case_title, self.case_visits, self.case_end
        first = self.book_day or self.day

        def work(session, actor):
            if not patient_id:
                raise InvalidInput("Search for the patient and choose them first.")
            try:
                visits = int(visits_text) if visits_text.strip() else None
            except ValueError as exc:
                raise InvalidInput("Authorised visits must be a whole number, e.g. 12.") from exc
            return cases.open_case(session, actor=actor, patient_id=patient_id, title=title, authorized_visits=visits,
                                   auth_start=parse_day(first), auth_end=parse_day(end) if end else None).id

        case_id = await self._act("patient.register", work,
                                  done="Episode of care opened; this booking will count against it.")
        if case_id is FAILED:
            return None
        await self._load_cases()
        self.case_id = str(case_id)
        self.case_title = self.case_visits = self.case_end = ""
        return None

    def _starts_at(self, tz: str) -> dt.datetime:
        if not self.patient_id:
            raise InvalidInput("Search for the patient and choose them first.")
        if not self.provider_id or not self.type_id:
            raise InvalidInput("Choose a provider and an appointment type.")
        if not self.time.strip():
            raise InvalidInput("Enter a start time, e.g. 09:30.")
        return at_local(parse_day(self.book_day or self.day), parse_time(self.time), tz)

    @rx.event
    async def book(self):
        screen = await self.get_state(CalendarState)
        try:
            await self._actor("appointment.book")
            booking = {
                "patient_id": self.patient_id, "starts_at": self._starts_at(screen.location_zone()),
                "provider_id": as_id(self.provider_id), "appointment_type_id": as_id(self.type_id),
                "room_id": as_id(self.room_id) if self.room_id else None,
                "case_id": as_id(self.case_id) if self.case_id else None,
            }
        except ClinicError as exc:
            # The form keeps everything typed so the user can correct one thing.
            return self._fail(exc)

        def work(session, actor):
            appointment = scheduling.book_appointment(session, actor=actor, **booking)
            return board.card(session, appointment_id=appointment.id)

        row = await self._act("appointment.book", work)
        if row is FAILED:
            return None
        return await show_visit(self, row["id"], f"Booked {row['patient_name']} at {row['start_label']}.")


async def show_visit(state: rx.State, appointment_id: int, text: str):
    """After an action that ends a form: the visit's panel, with what was done said at its top."""
    from clinic_app.state.visit import VisitSection

    visit = await state.get_state(VisitSection)
    follow = await visit.open(appointment_id)
    screen = await state.get_state(CalendarState)
    screen._ok(text)
    return follow


class SeriesSection(Section, CalendarState):
    """A weekly series from the booking form: every occurrence checked before anything is saved."""

    repeat_days: list[str] = []
    repeat_weeks: str = "6"
    plan: list[PlannedVisit] = []
    has_conflicts: bool = False
    weekday_options: list[Option] = WEEKDAYS

    def _reset(self) -> None:
        self.repeat_days, self.repeat_weeks, self.plan, self.has_conflicts = [], "6", [], False
        self._clear()

    @rx.event
    def toggle_day(self, day: str, on: bool):
        try:
            number = int(day)
        except ValueError:
            return self._fail(InvalidInput("Choose a day of the week."))
        days = {d for d in self.repeat_days if d != str(number)}
        if on and 0 <= number <= 6:
            days.add(str(number))
        self.repeat_days = sorted(days)
        self.plan = []
        return None

    @rx.event
    def set_weeks(self, value: str):
        self.repeat_weeks = str(value)[:2]
        self.plan = []

    async def _args(self) -> dict:
        form = await self.get_state(BookingSection)
        if not form.patient_id:
            raise InvalidInput("Search for the patient and choose them first.")
        if not form.provider_id or not form.type_id or not form.time.strip():
            raise InvalidInput("Choose a provider, a start time and an appointment type.")
        try:
            weeks = int(self.repeat_weeks)
        except ValueError as exc:
            raise InvalidInput("Enter the number of weeks, e.g. 6.") from exc
        return {
            "patient_id": form.patient_id, "provider_id": as_id(form.provider_id),
            "appointment_type_id": as_id(form.type_id), "first_day": parse_day(form.book_day or self.day),
            "time": parse_time(form.time), "weekdays": [int(d) for d in self.repeat_days], "weeks": weeks,
            "room_id": as_id(form.room_id) if form.room_id else None,
        }

    @rx.event
    async def check(self):
        """Show every occurrence with its clash before anything is saved."""
        try:
            await self._actor("appointment.book")
            args = await self._args()
        except ClinicError as exc:
            return self._fail(exc)
        plan = await self._act("appointment.book", lambda s, a: recurring.plan_series(s, actor=a, **args))
        if plan is FAILED:
            return None
        self.plan = [PlannedVisit(label=o.label, problem=o.problem) for o in plan]
        bad = sum(1 for o in plan if not o.ok)
        self.has_conflicts = bad > 0
        if bad:
            return self._fail(InvalidInput(f"{bad} of {len(plan)} visits cannot be booked; see the list."))
        return self._ok(f"All {len(plan)} visits are free.")

    @rx.event
    async def book(self, skip_conflicts: bool = False):
        try:
            args = await self._args()
            actor = await self._actor("appointment.book")

            def work(session):
                _, booked, skipped = recurring.book_series(session, actor=actor, **args,
                                                           skip_conflicts=bool(skip_conflicts))
                return [a.id for a in booked], [o.label for o in skipped]

            booked, skipped = await in_db(work)
        except recurring.SeriesConflict as exc:
            self.plan = [PlannedVisit(label=o.label, problem=o.problem) for o in exc.occurrences]
            self.has_conflicts = True
            return self._fail(exc)
        except ClinicError as exc:
            return self._fail(exc)
        self._reset()
        skipped_text = f"; skipped {', '.join(skipped)}" if skipped else ""
        return await show_visit(self, booked[0], f"Booked a series of {len(booked)} visits{skipped_text}.")


class WaitlistSection(Section, CalendarState):
    """The waitlist from the board: add the patient of the booking form; offer a freed slot."""

    offers: list[Offer] = []
    offers_for: int = 0  # the freed visit the offers are for

    @rx.event
    async def add(self):
        form = await self.get_state(BookingSection)
        patient_id, type_id, provider_id, label = form.patient_id, form.type_id, form.provider_id, form.patient_label
        location_id, first_text = int(self.location_id), form.book_day or self.day

        def work(session, actor):
            if not patient_id or not type_id:
                raise InvalidInput("Choose the patient and the appointment type first.")
            first = parse_day(first_text)
            return waitlist.add_to_waitlist(
                session, actor=actor, patient_id=patient_id, location_id=location_id,
                appointment_type_id=as_id(type_id), provider_id=as_id(provider_id) if provider_id else None,
                earliest_day=first, latest_day=first + dt.timedelta(days=14),
            )

        if await self._act("appointment.book", work) is FAILED:
            return None
        screen = await self.get_state(CalendarState)
        screen._close_panel()
        screen._ok(f"{label} is on the waitlist for the next two weeks.")
        return None

    @rx.event
    async def load_offers(self):
        """Who on the waitlist could take the slot of the visit the side panel shows."""
        (await self.get_state(CalendarState))._clear()
        freed = self.selected_id
        found = await self._act("appointment.book", lambda s, a: waitlist.offers_for_slot(
            s, actor=a, appointment_id=as_id(freed)))
        if found is FAILED:
            return None
        self.offers = [Offer(entry_id=o["entry_id"], patient_name=o["patient_name"], why=o["why"]) for o in found]
        self.offers_for = freed
        return None

    @rx.event
    async def book_offer(self, entry_id: int):
        freed = self.offers_for

        def work(session, actor):
            appointment = waitlist.book_offer(session, actor=actor, entry_id=as_id(entry_id), freed_appointment_id=freed)
            return board.card(session, appointment_id=appointment.id)

        row = await self._act("appointment.book", work)
        if row is FAILED:
            return None
        self.offers, self.offers_for = [], 0
        return await show_visit(self, row["id"], f"Booked {row['patient_name']} at {row['start_label']} from the waitlist.")
