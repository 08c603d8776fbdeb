"""Moving a visit: the Move panel (date, time, provider, length: the keyboard way) and a card
dragged on the board to another time, provider or day, or its bottom edge to another length
(assets/clinic-board.js sends the drop). Both go through ``scheduling.reschedule``, with its
refusals: the panel's beside its Save button, a drag's on the card dragged."""

from __future__ import annotations

import json

import reflex as rx

from clinic_app.services.frontdesk import board, scheduling
from clinic_app.services.platform.clock import at_local, hhmm_minute, parse_day, parse_time
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.state.auth import as_id
from clinic_app.state.calendar import CalendarState
from clinic_app.state.common import Option, in_db
from clinic_app.state.screen import FAILED, Section

DURATIONS = [Option(value=str(m), label=f"{m} min") for m in (15, 20, 30, 45, 60, 75, 90, 120)]
DRAG_REASON = "Moved on the board"


def _durations(current: int) -> list[Option]:
    if current in {int(o.value) for o in DURATIONS}:
        return DURATIONS
    return sorted([*DURATIONS, Option(value=str(current), label=f"{current} min")], key=lambda o: int(o.value))


class MoveSection(Section, CalendarState):
    """The Move panel's choices (opened on the visit's own values) and a drag's refusal."""

    move_day: str = ""
    move_time: str = ""
    move_provider_id: str = ""
    move_duration: str = "30"
    move_reason: str = ""
    durations: list[Option] = DURATIONS
    patient_name: str = ""
    in_series: bool = False
    # A refused drag: the card it was and why (shown on that card until the next action).
    refused_id: int = 0
    refused_text: str = ""

    @rx.event
    async def open(self):
        """The Move panel on the visit the side panel shows (as the server has it now)."""
        try:
            await self._actor("appointment.reschedule")
            wanted = as_id(self.selected_id)
            row = await in_db(lambda s: board.card(s, appointment_id=wanted))
        except ClinicError as exc:
            return self._fail(exc)
        screen = await self.get_state(CalendarState)
        if not screen.can_book or row["status"] != "booked":
            return screen._fail(InvalidInput("Choose a booked appointment to move."))
        screen.show_panel("move", wanted)
        self._clear()
        self.move_day, self.move_time = row["day"], row["start_label"]
        self.move_provider_id, self.move_duration = str(row["provider_id"]), str(row["duration"])
        self.durations = _durations(row["duration"])
        self.move_reason, self.patient_name, self.in_series = "", row["patient_name"], row["in_series"]
        self.refused_id, self.refused_text = 0, ""
        return None

    @rx.event
    async def close(self):
        """Back to the visit's panel."""
        from clinic_app.state.visit import VisitSection

        visit = await self.get_state(VisitSection)
        return await visit.open(self.selected_id)

    @rx.event
    def set_day(self, value: str):
        self.move_day = str(value)[:10]

    @rx.event
    def set_time(self, value: str):
        self.move_time = str(value)[:8]

    @rx.event
    def set_provider(self, value: str):
        self.move_provider_id = str(value)

    @rx.event
    def set_duration(self, value: str):
        self.move_duration = str(value)

    @rx.event
    def set_reason(self, value: str):
        self.move_reason = str(value)[: scheduling.MAX_REASON + 1]

    def choice(self) -> tuple[str, int]:
        """The panel's start time (HH:MM) and length, after checking a visit and a time are chosen."""
        if not self.selected_id:
            raise InvalidInput("Choose the appointment to move.")
        if not self.move_time.strip():
            raise InvalidInput("Enter the new start time, e.g. 10:30.")
        try:
            minutes = int(self.move_duration)
        except ValueError as exc:
            raise InvalidInput("Choose a length from the list.") from exc
        return parse_time(self.move_time), minutes

    @rx.event
    async def save(self):
        screen = await self.get_state(CalendarState)
        try:
            time, minutes = self.choice()
            move = {
                "appointment_id": self.selected_id, "provider_id": as_id(self.move_provider_id),
                "starts_at": at_local(parse_day(self.move_day), time, screen.location_zone()),
                "duration_minutes": minutes, "reason": self.move_reason,
            }
        except ClinicError as exc:
            return self._fail(exc)  # the panel keeps what was picked, so one thing can be corrected
        row = await self._moved(move)
        if row is FAILED:
            return None
        return await self._done(row)

    async def _moved(self, move: dict):
        def work(session, actor):
            appointment = scheduling.reschedule(session, actor=actor, **move)
            return board.card(session, appointment_id=appointment.id)

        return await self._act("appointment.reschedule", work)

    async def _done(self, row: dict):
        from clinic_app.state.booking import show_visit

        return await show_visit(
            self, row["id"], f"Moved {row['patient_name']} to {row['day']} {row['start_label']}-{row['end_label']}.")

    @rx.event
    async def drop(self, payload: str):
        """A card dropped on the board: ``{"id", "column" ("provider|day"), "minute", "length"}``."""
        screen = await self.get_state(CalendarState)
        self.refused_id, self.refused_text = 0, ""
        try:
            data = json.loads(str(payload)[:400])
            wanted, minute, length = as_id(data["id"]), int(data["minute"]), int(data["length"])
            provider_id, day = screen.column_key(str(data["column"]))
            if not (0 <= minute < 24 * 60 and 5 <= length <= 480):
                raise InvalidInput("That drop was outside the board; try again.")
        except ClinicError as exc:
            return screen._fail(exc)
        except (ValueError, TypeError, KeyError):
            return screen._fail(InvalidInput("That drop was not understood; reload the page."))
        move = {
            "appointment_id": wanted, "provider_id": provider_id, "duration_minutes": length, "reason": DRAG_REASON,
            "starts_at": at_local(day, hhmm_minute(minute), screen.location_zone()),
        }
        row = await self._moved(move)
        if row is FAILED:
            # The refusal shows on the card dragged (it stays where it was).
            self.refused_id, self.refused_text = wanted, self.message
            self._clear()
            return None
        return await self._done(row)

    @rx.event
    def dismiss_refusal(self):
        self.refused_id, self.refused_text = 0, ""
