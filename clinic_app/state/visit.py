"""The visit's part of the board's side panel: its details and what may be done with it.

Check in is offered only on the visit's day (the page asks ``CalendarState.today``); a
cancellation or a no-show asks for a reason in a dialog that names the patient and the
time and says whether it will count as late (services.scheduling.release_terms).
"""

from __future__ import annotations

import reflex as rx

from clinic_app.db import utcnow
from clinic_app.services.frontdesk import board, recurring, scheduling
from clinic_app.services.platform.clock import local
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.portal import intake
from clinic_app.state.auth import as_id
from clinic_app.state.booking import WaitlistSection
from clinic_app.state.calendar import CalendarState
from clinic_app.state.common import in_db
from clinic_app.state.copay import CopaySection
from clinic_app.state.move import MoveSection
from clinic_app.state.screen import FAILED, Section


class VisitSection(Section, CalendarState):
    """The selected visit: what the board does not keep on every card, and its actions."""

    # The visit as read when it was selected (the panel shows the newest pushed row over it).
    row: dict = {}
    arrived: str = ""
    wait: str = ""
    checked_out: str = ""
    coverage: str = ""
    intake: str = ""  # "Intake complete" / "Intake pending: <form>" / "" (services/portal/intake.py)
    started: bool = False  # a no-show may be marked only once the visit has started

    # The cancel / no-show dialog.
    release_kind: str = ""  # "cancelled" or "no_show" while the dialog is open
    release_patient: str = ""
    release_when: str = ""
    release_words: str = ""
    release_late: bool = False
    reason: str = ""
    release_problem: str = ""

    async def open(self, appointment_id):
        try:
            await self._actor("board.view")  # a visit's details are the board's (a forged event reads nothing)
            wanted = as_id(appointment_id)
            row, coverage = await in_db_card(wanted)
        except ClinicError as exc:
            return self._fail(exc)
        screen = await self.get_state(CalendarState)
        screen.show_panel("visit", wanted)
        self._clear()
        offers = await self.get_state(WaitlistSection)
        offers.offers, offers.offers_for = [], 0
        offers._clear()
        move = await self.get_state(MoveSection)
        move.refused_id, move.refused_text = 0, ""
        self._show(row, screen.location_zone())
        self.coverage = coverage
        self.intake = await in_db(lambda s: intake.status_words(s, appointment_id=wanted))
        self.release_kind = ""
        return CopaySection.load(wanted)

    def _show(self, row: dict, tz: str) -> None:
        self.row = board.client_row(row)
        self.arrived = row.get("arrived_label", "")
        wait = row.get("wait_minutes", -1)
        self.wait = f"{wait} min" if wait >= 0 else ""
        self.checked_out = row.get("checked_out_label", "")
        now = local(utcnow(), tz)
        self.started = (row["day"], row["start_minute"]) <= (now.date().isoformat(), now.hour * 60 + now.minute)

    async def _reread(self, appointment_id: int) -> None:
        try:
            row, _ = await in_db_card(appointment_id)
        except ClinicError:
            return
        screen = await self.get_state(CalendarState)
        self._show(row, screen.location_zone())

    async def _one_message(self) -> None:
        """What this panel says next replaces what the board said last (one message in view)."""
        (await self.get_state(CalendarState))._clear()

    # The actions act on the visit the panel was opened on, as the server has it when the event
    # is handled: events of a tab are handled in order, so a card clicked just before "Check in"
    # is the one checked in, even if the panel had not been redrawn yet.
    @rx.event
    async def check_in(self):
        await self._one_message()
        wanted = self.selected_id
        done = await self._act(
            "appointment.check_in",
            lambda s, a: scheduling.transition(s, actor=a, appointment_id=as_id(wanted), to_status="arrived"),
            done="Checked in.",
        )
        if done is FAILED:
            return None
        wanted = done.id
        await self._reread(wanted)
        # The copay due is shown, and said, at the moment of check-in.
        copay = await self.get_state(CopaySection)
        await copay._load(wanted)
        if copay.due_cents:
            self._ok(f"Checked in. {copay.words}: record the payment in the visit's panel.")
        return None

    @rx.event
    async def check_out(self):
        await self._one_message()
        wanted = self.selected_id
        done = await self._act(
            "appointment.check_in",
            lambda s, a: scheduling.check_out(s, actor=a, appointment_id=as_id(wanted)),
        )
        if done is FAILED:
            return None
        await self._reread(done.id)
        self._ok(f"Checked out at {self.checked_out}.")
        return None

    # -- cancel or no-show, with a reason -------------------------------------------------
    @rx.event
    async def ask_release(self, kind: str):
        """Open the dialog: who, when, and what it will count as."""
        if kind not in scheduling.RELEASE_STATUSES or not self.selected_id:
            return self._fail(InvalidInput("Choose the visit first."))
        await self._one_message()
        self._clear()
        action = scheduling.TRANSITION_ACTION[kind]
        wanted = self.selected_id
        terms = await self._act(action, lambda s, _a: scheduling.release_terms(s, appointment_id=wanted, to_status=kind))
        if terms is FAILED:
            return None
        self.release_kind = kind
        self.release_patient, self.release_when = terms.patient_name, terms.when
        self.release_words, self.release_late = terms.words, terms.late
        self.reason, self.release_problem = "", ""
        return None

    @rx.event
    def set_reason(self, value: str):
        self.reason = str(value)[: scheduling.MAX_REASON + 1]
        self.release_problem = ""

    @rx.event
    def close_release(self):
        self.release_kind = ""
        self.release_problem = ""

    @rx.event
    def release_open_change(self, is_open: bool):
        if not is_open:
            self.release_kind = ""

    @rx.event
    async def confirm_release(self):
        kind, wanted, reason = self.release_kind, self.selected_id, self.reason
        if kind not in scheduling.RELEASE_STATUSES or not wanted:
            return self._fail(InvalidInput("Choose the visit first."))
        try:
            actor = await self._actor(scheduling.TRANSITION_ACTION[kind])
            await in_db(lambda s: scheduling.release(s, actor=actor, appointment_id=wanted, to_status=kind,
                                                     reason=reason))
        except ClinicError as exc:
            self.release_problem = str(exc)  # shown in the dialog, which stays open
            return None
        self.release_kind = ""
        await self._reread(wanted)
        self._ok("Appointment cancelled." if kind == "cancelled" else "Marked as a no-show.")
        return None

    @rx.event
    async def confirm_release_following(self):
        wanted, reason = self.selected_id, self.reason
        try:
            actor = await self._actor("appointment.cancel")
            days = await in_db(lambda s: [a.starts_at for a in recurring.cancel_following(
                s, actor=actor, appointment_id=wanted, reason=reason)])
        except ClinicError as exc:
            self.release_problem = str(exc)
            return None
        self.release_kind = ""
        await self._reread(wanted)
        self._ok(f"Cancelled {len(days)} visits of the series, from this one on.")
        return None


async def in_db_card(appointment_id: int) -> tuple[dict, str]:
    """The visit's card (with its front-desk times) and the day's insurance in words."""
    return await in_db(lambda s: (board.card(s, appointment_id=appointment_id),
                                  board.coverage_label(s, appointment_id=appointment_id)))
