"""Copay at check-in: what the payer's last answer says the patient owes for the visit,
and recording the payment on the patient's ledger."""

from __future__ import annotations

import reflex as rx

from clinic_app.models import Appointment
from clinic_app.services import eligibility, ledger
from clinic_app.services.errors import ClinicError, InvalidInput, NotAllowed, NotFound
from clinic_app.state.auth import as_id, current_actor
from clinic_app.state.common import Option, in_db

METHODS = [Option(value="card", label="Card"), Option(value="cash", label="Cash"), Option(value="cheque", label="Cheque")]


class CopayState(rx.State):
    """The copay part of the selected visit's panel; what was typed stays on an error."""

    appointment_id: int = 0
    eligibility: str = ""
    words: str = ""
    due_cents: int = 0
    can_take: bool = False
    amount: str = ""
    method: str = "card"
    reference: str = ""
    methods: list[Option] = METHODS
    message: str = ""
    message_is_error: bool = False

    @rx.event
    async def load(self, appointment_id: int, announce: bool = False):
        try:
            # Insurance and money are the desk's (minimum necessary): a clinician's board shows neither.
            await current_actor(self, "appointment.check_in")
        except NotAllowed:
            self.appointment_id, self.eligibility, self.words, self.due_cents, self.can_take = 0, "", "", 0, False
            return None
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        try:
            wanted = as_id(appointment_id)
            due = await in_db(lambda s: eligibility.copay_due(s, appointment_id=wanted))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        try:
            may_take = bool(await current_actor(self, "payment.take"))
        except ClinicError:
            may_take = False
        if wanted != self.appointment_id:
            self.amount, self.reference, self.method, self.message = "", "", "card", ""
        self.appointment_id = wanted
        self.eligibility, self.words, self.due_cents = due.eligibility, due.words, due.due_cents
        self.can_take = may_take and due.due_cents > 0
        if due.due_cents and not self.amount:
            self.amount = f"{due.due_cents / 100:.2f}"
        if announce and due.due_cents:
            from clinic_app.state.calendar import CalendarState

            calendar = await self.get_state(CalendarState)
            calendar._ok(f"Checked in. {due.words}: record the payment in the visit's panel.")
        return None

    @rx.event
    def set_amount(self, value: str):
        self.amount = str(value)[:12]

    @rx.event
    def set_method(self, value: str):
        self.method = str(value) if value in {o.value for o in METHODS} else "card"

    @rx.event
    def set_reference(self, value: str):
        self.reference = str(value)[:41]

    @rx.event
    async def record(self):
        try:
            actor = await current_actor(self, "payment.take")
            if not self.appointment_id:
                raise InvalidInput("Choose the visit first.")
            appointment_id, amount, method, reference = self.appointment_id, self.amount, self.method, self.reference

            def work(session):
                appointment = session.get(Appointment, appointment_id)
                if appointment is None:
                    raise NotFound("That appointment no longer exists.")
                entry = ledger.take_payment(session, actor=actor, patient_id=appointment.patient_id, amount=amount,
                                            method=method, reference=reference, appointment_id=appointment_id)
                return -entry.amount_cents

            paid = await in_db(work)
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        self.amount, self.reference = "", ""
        self.message, self.message_is_error = f"Recorded ${paid / 100:,.2f} paid by {self.method}.", False
        return CopayState.load(self.appointment_id)
