"""The registration panel on the board: a new patient, then straight to booking."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.models import Patient
from clinic_app.services import patients
from clinic_app.services.errors import ClinicError, PossibleDuplicate
from clinic_app.services.patients import Registration, RegistrationInvalid
from clinic_app.state.auth import current_actor
from clinic_app.state.booking import BookingSection
from clinic_app.state.calendar import CalendarState
from clinic_app.state.common import Option, in_db

TEXT_FIELDS = [f.name for f in dataclasses.fields(Registration) if f.type == "str"]
CONSENTS = list(patients.CONSENT_LABELS)
MAX_FIELD = 200


def _blank() -> dict[str, str]:
    form = dict.fromkeys(TEXT_FIELDS, "")
    form.update(sex="unknown", preferred_channel="phone", guarantor_relationship="self", reminders_opt_out="")
    form.update({f"consent_{kind}": "" for kind in CONSENTS})
    return form


@dataclasses.dataclass
class HistoryLine:
    """One changed field, as the edit panel lists it."""

    when: str
    text: str


def _words(row) -> str:
    field = row.field.replace("consent_", "consent: ").replace("_", " ")
    return f"{field}: {row.old_value or '(empty)'} -> {row.new_value or '(empty)'}"


class RegistrationState(rx.State):
    """What the registration panel holds. Nothing typed is lost on an error.

    The same panel edits a registered patient (``editing_id``): the same fields and
    checks, "Save changes" instead of "Register patient", and the record's history.
    """

    panel_open: bool = False
    editing_id: int = 0
    history: list[HistoryLine] = []
    form: dict[str, str] = _blank()
    problems: dict[str, str] = {}
    message: str = ""
    duplicate: bool = False
    channels: list[Option] = [Option(value=k, label=v) for k, v in patients.CHANNEL_LABELS.items()]
    sexes: list[Option] = [Option(value=v, label=v.title()) for v in ("female", "male", "other", "unknown")]
    relationships: list[Option] = [
        Option(value=v, label="The patient" if v == "self" else v.title())
        for v in ("self", "parent", "spouse", "guardian", "other")
    ]

    @rx.event
    async def start(self):
        try:
            await current_actor(self, "patient.register")
        except ClinicError as exc:
            self.message = str(exc)
            return
        calendar = await self.get_state(CalendarState)
        calendar.show_panel("registration")
        if self.editing_id:
            self.form, self.editing_id, self.history, self.problems = _blank(), 0, [], {}
        self.panel_open = True
        self.message = ""

    @rx.event
    async def start_edit(self):
        """Edit the patient chosen in the booking form."""
        from clinic_app.services import changes

        calendar = await self.get_state(CalendarState)
        patient_id = (await self.get_state(BookingSection)).patient_id
        try:
            await current_actor(self, "patient.register")
            if not patient_id:
                raise ClinicError("Choose a patient first.")

            def work(session):
                form = patients.as_registration(session, patient_id=patient_id)
                rows = changes.history(session, entity="patient", entity_id=patient_id)[:20]
                return form, [HistoryLine(when=f"{r.changed_at:%Y-%m-%d}", text=_words(r)) for r in rows]

            form, history = await in_db(work)
        except ClinicError as exc:
            self.message = str(exc)
            return
        values = _blank()
        values.update({name: str(getattr(form, name) or "") for name in TEXT_FIELDS})
        values["reminders_opt_out"] = "yes" if form.reminders_opt_out else ""
        values.update({f"consent_{kind}": form.consents.get(kind, "") for kind in CONSENTS})
        self.form, self.problems, self.duplicate, self.history = values, {}, False, history
        self.editing_id = patient_id
        calendar.show_panel("registration")
        self.panel_open = True
        self.message = ""
        from clinic_app.state.record_edit import RecordEditState

        return RecordEditState.load(patient_id)

    @rx.event
    async def save_changes(self):
        try:
            actor = await current_actor(self, "patient.register")
            patient_id, registration = self.editing_id, self._registration()
            if not patient_id:
                raise ClinicError("Choose the patient to edit.")

            def work(session):
                changed = patients.update_patient(session, actor=actor, patient_id=patient_id, form=registration)
                patient = session.get(Patient, patient_id)
                return changed, patients.describe(patient)

            changed, label = await in_db(work)
        except RegistrationInvalid as exc:
            self.problems, self.message = exc.problems, str(exc)
            return None
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.problems, self.message = {}, ""
        calendar = await self.get_state(CalendarState)
        booking = await self.get_state(BookingSection)
        if booking.patient_id == patient_id:
            booking.patient_label = label
        calendar._ok(f"Saved changes to {label}: {', '.join(changed).replace('_', ' ')}.")
        # The panel stays open with the saved values and the history brought up to date.
        return RegistrationState.start_edit

    def _registration(self) -> Registration:
        form = self.form
        return Registration(
            **{name: form.get(name, "") for name in TEXT_FIELDS},
            reminders_opt_out=form.get("reminders_opt_out") == "yes",
            consents={kind: form.get(f"consent_{kind}", "") for kind in CONSENTS},
        )

    @rx.event
    async def close(self):
        self.panel_open = False
        calendar = await self.get_state(CalendarState)
        if self.editing_id:  # what was typed for a patient on file is not kept for a new one
            self.form, self.editing_id, self.history, self.problems = _blank(), 0, [], {}
            calendar.show_panel("booking")  # back to the booking form it was opened from
        else:
            calendar._close_panel()

    @rx.event
    def set_field(self, name: str, value):
        if name not in self.form:
            return
        if name == "reminders_opt_out":
            value = "yes" if value is True or value == "yes" else ""
        self.form = {**self.form, name: str(value)[:MAX_FIELD]}
        if name in self.problems or (name == "reminders_opt_out" and "consent_sms" in self.problems):
            self.problems = {k: v for k, v in self.problems.items() if k != name}
        self.duplicate = False

    @rx.event
    async def register(self, anyway: bool = False):
        registration = self._registration()
        try:
            actor = await current_actor(self, "patient.register")
            confirmed = bool(anyway) and self.duplicate

            def work(session):
                patient = patients.register_patient(
                    session, actor=actor, form=registration, confirm_not_duplicate=confirmed,
                )
                return patient.id, patients.describe(patient)

            patient_id, label = await in_db(work)
        except RegistrationInvalid as exc:
            self.problems = exc.problems
            self.message = str(exc)
            self.duplicate = False
            return
        except PossibleDuplicate as exc:
            self.problems = {}
            self.message = str(exc)
            self.duplicate = True
            return
        except ClinicError as exc:
            self.message = str(exc)
            return
        self.panel_open = False
        self.form = _blank()
        self.problems = {}
        self.message = ""
        self.duplicate = False
        calendar = await self.get_state(CalendarState)
        await (await self.get_state(BookingSection)).choose_registered(patient_id, label)
        calendar._ok(f"Registered {label}. Choose a time and book.")
