"""Copay at check-in: what the payer's last answer says the patient owes for the visit,
and recording the payment on the patient's ledger (a part of the visit's panel)."""

from __future__ import annotations

import reflex as rx

from clinic_app.models import Appointment
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotAllowed, NotFound
from clinic_app.services.platform.money import dollars, plain
from clinic_app.services.revenue import eligibility, ledger
from clinic_app.state.auth import as_id, current_actor
from clinic_app.state.calendar import CalendarState
from clinic_app.state.common import Option, in_db
from clinic_app.state.screen import Section

METHODS = [Option(value="card", label="Card"), Option(value="cash", label="Cash"), Option(value="cheque", label="Cheque")]


class CopaySection(Section, CalendarState):
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

    @rx.event
    async def load(self, appointment_id: int):
        await self._load(appointment_id)

    async def _load(self, appointment_id) -> None:
        try:
            # Insurance and money are the desk's (minimum necessary): a clinician's board shows neither.
            await current_actor(self, "appointment.check_in")
        except NotAllowed:
            self.appointment_id, self.eligibility, self.words, self.due_cents, self.can_take = 0, "", "", 0, False
            return
        except ClinicError as exc:
            self._fail(exc)
            return
        try:
            wanted = as_id(appointment_id)
            due = await in_db(lambda s: eligibility.copay_due(s, appointment_id=wanted))
        except ClinicError as exc:
            self._fail(exc)
            return
        try:
            may_take = bool(await current_actor(self, "payment.take"))
        except ClinicError:
            may_take = False
        if wanted != self.appointment_id:  # another visit: its own fresh form
            self.amount, self.reference, self.method = "", "", "card"
            self._clear()
        self.appointment_id = wanted
        self.eligibility, self.words, self.due_cents = due.eligibility, due.words, due.due_cents
        self.can_take = may_take and due.due_cents > 0
        if due.due_cents and not self.amount:
            self.amount = f"{plain(due.due_cents)}"

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
        appointment_id, amount, method, reference = self.appointment_id, self.amount, self.method, self.reference

        def work(session, actor):
            if not appointment_id:
                raise InvalidInput("Choose the visit first.")
            appointment = session.get(Appointment, appointment_id)
            if appointment is None:
                raise NotFound("That appointment no longer exists.")
            entry = ledger.take_payment(session, actor=actor, patient_id=appointment.patient_id, amount=amount,
                                        method=method, reference=reference, appointment_id=appointment_id)
            return -entry.amount_cents

        paid = await self._act("payment.take", work)
        if not isinstance(paid, int):
            return None
        self.amount, self.reference = "", ""
        await self._load(appointment_id)
        self._ok(f"Recorded {dollars(paid)} paid by {method}.")
        return None
