"""The registration panel on the board: a new patient, then straight to booking."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.services import patients
from clinic_app.services.errors import ClinicError, PossibleDuplicate
from clinic_app.services.patients import Registration, RegistrationInvalid
from clinic_app.state.auth import current_actor
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


class RegistrationState(rx.State):
    """What the registration panel holds. Nothing typed is lost on an error."""

    panel_open: bool = False
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
        calendar.booking_open = False
        calendar.selected_id = 0
        self.panel_open = True
        self.message = ""

    @rx.event
    def close(self):
        self.panel_open = False

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
        form = self.form
        registration = Registration(
            **{name: form.get(name, "") for name in TEXT_FIELDS},
            reminders_opt_out=form.get("reminders_opt_out") == "yes",
            consents={kind: form.get(f"consent_{kind}", "") for kind in CONSENTS},
        )
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
        await calendar.choose_registered(patient_id, label)
        calendar._ok(f"Registered {label}. Choose a time and book.")
