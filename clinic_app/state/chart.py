"""The clinician's chart on a tablet: today's list, the visit note, signing."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.events import chart_topic
from clinic_app.models import Location, Provider
from clinic_app.services import board, charting, scheduling
from clinic_app.services.clock import hhmm
from clinic_app.services.codes import describe_icd10
from clinic_app.services.errors import ClinicError
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import today_at
from clinic_app.state.live_push import client_token


@dataclasses.dataclass
class Visit:
    """A row of the clinician's day list."""

    id: int
    patient_name: str
    type_name: str
    start_label: str
    status: str
    status_label: str
    open_label: str


@dataclasses.dataclass
class Diagnosis:
    code: str
    description: str


@dataclasses.dataclass
class Procedure:
    code: str
    units: int


class ChartState(rx.State):
    """One clinician's chart screen."""

    day: str = ""
    visits: list[Visit] = []
    message: str = ""
    message_is_error: bool = False

    appointment_id: int = 0
    note_id: int = 0
    patient_name: str = ""
    visit_label: str = ""
    visit_status: str = ""
    visit_status_label: str = ""
    signed_label: str = ""
    subjective: str = ""
    objective: str = ""
    assessment: str = ""
    plan: str = ""
    diagnoses: list[Diagnosis] = []
    procedures: list[Procedure] = []
    new_diagnosis: str = ""
    new_procedure: str = ""
    new_units: str = "1"
    saved_label: str = ""

    _tz: str = "UTC"

    @rx.event
    async def load(self):
        """on_load: today's visits of the signed-in clinician."""
        actor, redirect = await page_actor(self, "chart.view")
        if redirect:
            return redirect
        try:
            with session_scope() as session:
                provider = session.get(Provider, actor.provider_id) if actor.provider_id else None
                if provider is None:
                    raise ClinicError("Your account is not linked to a provider; ask an admin.")
                self._tz = session.get(Location, provider.location_id).timezone
                self.day = today_at(self._tz).isoformat()
                rows = board.provider_day(session, actor=actor, day=today_at(self._tz))
        except ClinicError as exc:
            return self._fail(exc)
        self.visits = [self._visit(r) for r in rows]
        self._provider_id = actor.provider_id or 0
        registry.show(client_token(self), "chart", [chart_topic(actor.provider_id, self.day)])
        if self.appointment_id:
            return await self.open_visit(self.appointment_id)
        return None

    @staticmethod
    def _visit(row: dict) -> Visit:
        return Visit(
            id=row["id"], patient_name=row["patient_name"], type_name=row["type_name"],
            start_label=row["start_label"], status=row["status"], status_label=row["status_label"],
            open_label=f"Open note: {row['patient_name']} at {row['start_label']}",
        )

    _provider_id: int = 0

    def apply_card(self, row: dict) -> None:
        """A pushed change to one of today's visits (e.g. reception checked the patient in)."""
        visits = [v for v in self.visits if v.id != row["id"]]
        # A visit moved to another day or provider leaves this list (reception's Move).
        if row.get("day") == self.day and row.get("provider_id") == self._provider_id:
            visits.append(self._visit(row))
        elif len(visits) == len(self.visits):
            return
        visits.sort(key=lambda v: (v.start_label, v.id))
        self.visits = visits
        if row["id"] == self.appointment_id:
            self.visit_status = row["status"]
            self.visit_status_label = row["status_label"]

    @rx.event
    async def open_visit(self, appointment_id: int):
        """Open (or start) the note of one of the clinician's visits."""
        try:
            actor = await current_actor(self, "chart.view")
            with session_scope() as session:
                note = charting.open_note(session, actor=actor, appointment_id=as_id(appointment_id))
                self._show_note(session, note)
        except ClinicError as exc:
            return self._fail(exc)
        self.message = ""
        return None

    def _show_note(self, session, note) -> None:
        row = board.card(session, appointment_id=note.appointment_id)
        self.appointment_id = note.appointment_id
        self.note_id = note.id
        self.patient_name = row["patient_name"]
        self.visit_label = f"{row['type_name']}, {row['start_label']}-{row['end_label']}"
        self.visit_status = row["status"]
        self.visit_status_label = row["status_label"]
        self.signed_label = f"Signed at {hhmm(note.signed_at, self._tz)}; the note is locked." if note.signed_at else ""
        self.subjective, self.objective = note.subjective, note.objective
        self.assessment, self.plan = note.assessment, note.plan
        self.diagnoses = [
            Diagnosis(code=d.code, description=describe_icd10(d.code)) for d in charting.diagnoses(session, note_id=note.id)
        ]
        self.procedures = [Procedure(code=p.code, units=p.units) for p in charting.procedures(session, note_id=note.id)]
        self.saved_label = ""

    @rx.event
    def close_note(self):
        self.appointment_id = 0
        self.note_id = 0

    # -- autosave ------------------------------------------------------------------
    async def _save(self, field: str, text: str):
        text = str(text)
        setattr(self, field, text)  # keep what was typed even if saving fails
        try:
            actor = await current_actor(self, "note.edit")
            with session_scope() as session:
                charting.save_draft(session, actor=actor, note_id=as_id(self.note_id), field=field, text=text)
        except ClinicError as exc:
            self.saved_label = "Not saved"
            return self._fail(exc)
        self.saved_label = "Draft saved"
        return None

    @rx.event
    async def save_subjective(self, text: str):
        return await self._save("subjective", text)

    @rx.event
    async def save_objective(self, text: str):
        return await self._save("objective", text)

    @rx.event
    async def save_assessment(self, text: str):
        return await self._save("assessment", text)

    @rx.event
    async def save_plan(self, text: str):
        return await self._save("plan", text)

    # -- codes ------------------------------------------------------------------------
    @rx.event
    def set_new_diagnosis(self, text: str):
        self.new_diagnosis = str(text)[:12]

    @rx.event
    def set_new_procedure(self, text: str):
        self.new_procedure = str(text)[:8]

    @rx.event
    def set_new_units(self, text: str):
        self.new_units = str(text)[:3]

    async def _codes(self, change) -> bool:
        try:
            actor = await current_actor(self, "note.edit")
            with session_scope() as session:
                change(session, actor)
                note = charting.open_note(session, actor=actor, appointment_id=self.appointment_id)
                self._show_note(session, note)
        except ClinicError as exc:
            self._fail(exc)
            return False
        self.message = ""
        return True

    @rx.event
    async def add_diagnosis(self):
        code = self.new_diagnosis
        if await self._codes(lambda s, a: charting.add_diagnosis(s, actor=a, note_id=self.note_id, code=code)):
            self.new_diagnosis = ""

    @rx.event
    async def remove_diagnosis(self, code: str):
        await self._codes(lambda s, a: charting.remove_diagnosis(s, actor=a, note_id=self.note_id, code=str(code)))

    @rx.event
    async def add_procedure(self):
        code, units = self.new_procedure, self.new_units
        if await self._codes(lambda s, a: charting.add_procedure(s, actor=a, note_id=self.note_id, code=code, units=units)):
            self.new_procedure = ""
            self.new_units = "1"

    @rx.event
    async def remove_procedure(self, code: str):
        await self._codes(lambda s, a: charting.remove_procedure(s, actor=a, note_id=self.note_id, code=str(code)))

    # -- session and signing --------------------------------------------------------
    @rx.event
    async def start_session(self):
        try:
            actor = await current_actor(self, "appointment.start_session")
            with session_scope() as session:
                scheduling.transition(session, actor=actor, appointment_id=as_id(self.appointment_id), to_status="in_session")
                self.apply_card(board.card(session, appointment_id=self.appointment_id))
        except ClinicError as exc:
            return self._fail(exc)
        return self._ok("Session started.")

    @rx.event
    async def sign(self):
        """Sign the note: it locks, the visit becomes ready to bill, charges are captured."""
        try:
            actor = await current_actor(self, "note.sign")
            with session_scope() as session:
                charges = charting.sign_note(session, actor=actor, note_id=as_id(self.note_id))
                note = charting.open_note(session, actor=actor, appointment_id=self.appointment_id)
                self._show_note(session, note)
                self.apply_card(board.card(session, appointment_id=self.appointment_id))
        except ClinicError as exc:
            return self._fail(exc)
        total = sum(c.amount_cents for c in charges)
        return self._ok(f"Note signed. {len(charges)} charge line(s), ${total / 100:,.2f}, sent to billing.")

    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True

    def _ok(self, text: str):
        self.message = text
        self.message_is_error = False
