"""The registration panel on the board: a new patient, then straight to booking."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app import routes
from clinic_app.models import Patient
from clinic_app.services.frontdesk import changes, patients
from clinic_app.services.frontdesk.patient_lookup import parse_date
from clinic_app.services.frontdesk.patients import Registration, RegistrationInvalid
from clinic_app.services.frontdesk.profile import display_zone
from clinic_app.services.platform.errors import ClinicError, PossibleDuplicate
from clinic_app.services.platform.permissions import allowed
from clinic_app.services.revenue import payers
from clinic_app.services.revenue.payers import CoverageForm
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.booking import BookingSection
from clinic_app.state.calendar import CalendarState
from clinic_app.state.common import Option, in_db, today_at
from clinic_app.state.patient_search import PatientSearchState
from clinic_app.state.record_edit import RecordEditState

TEXT_FIELDS = [f.name for f in dataclasses.fields(Registration) if f.type == "str"]
CONSENTS = list(patients.CONSENT_LABELS)
MAX_FIELD = 200
# The insurance taken at registration: cov1_* the primary, cov2_* the secondary (an empty
# payer: none). Each key is a field of payers.CoverageForm.
COVERAGE_KEYS = {
    "payer": "payer_id", "member": "member_id", "group": "group_number", "relationship": "relationship",
    "first": "subscriber_first_name", "last": "subscriber_last_name", "birth": "subscriber_birth_date", "sex": "subscriber_sex",
    "street": "address", "city": "city", "state": "state", "zip": "zip_code", "from": "effective_from", "copay": "copay",
}
NO_PAYER = "none"


def _blank(today: str = "") -> dict[str, str]:
    form = dict.fromkeys(TEXT_FIELDS, "")
    form.update(sex="unknown", preferred_channel="phone", guarantor_relationship="self", reminders_opt_out="")
    form.update({f"consent_{kind}": "" for kind in CONSENTS})
    for n in (1, 2):
        form.update({f"cov{n}_{key}": "" for key in COVERAGE_KEYS})
        form.update({f"cov{n}_payer": NO_PAYER, f"cov{n}_relationship": "self", f"cov{n}_from": today, f"cov{n}_sex": "unknown"})
    return form


def _prefill(text: str) -> dict[str, str]:
    """What a search that found nobody says about the new patient: a name, a phone or a birth date."""
    text = (text or "").strip()
    if not text:
        return {}
    if parse_date(text) is not None:
        return {"birth_date": parse_date(text).isoformat()}
    if any(ch.isdigit() for ch in text):
        return {"phone": text} if patients._phone_ok(text) else {}
    words = [w for w in text.replace(",", " ").split() if w]
    if "," in text and len(words) >= 2:
        return {"last_name": words[0].title(), "first_name": " ".join(words[1:]).title()}
    if len(words) >= 2:
        return {"first_name": words[0].title(), "last_name": " ".join(words[1:]).title()}
    return {"last_name": words[0].title()}


def _with_coverage_fields(exc: RegistrationInvalid) -> dict[str, str]:
    """The form's problems, with each wrong insurance field's own beside it (cov<n>_<key>)."""
    key_of = {field: key for key, field in COVERAGE_KEYS.items()}
    beside = {f"cov{n}_{key_of[field]}": text for n, fields in exc.coverage_problems.items()
              for field, text in fields.items() if field in key_of}
    return {**exc.problems, **beside}


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
    # Where the form is open: the board's panel ("board"), a profile's edit ("profile") or
    # the new-patient page ("page"); it decides where a saved patient goes next.
    context: str = "board"
    payer_options: list[Option] = []
    history: list[HistoryLine] = []
    form: dict[str, str] = _blank()
    problems: dict[str, str] = {}
    message: str = ""
    duplicate: bool = False
    cov_relationships: list[Option] = [
        Option(value="self", label="The patient"), Option(value="spouse", label="Spouse"),
        Option(value="child", label="Child of the subscriber"), Option(value="other", label="Other"),
    ]
    channels: list[Option] = [Option(value=k, label=v) for k, v in patients.CHANNEL_LABELS.items()]
    sexes: list[Option] = [Option(value=v, label=v.title()) for v in ("female", "male", "other", "unknown")]
    relationships: list[Option] = [
        Option(value=v, label="The patient" if v == "self" else v.title())
        for v in ("self", "parent", "spouse", "guardian", "other")
    ]

    async def _load_payers(self) -> str:
        """The insurers the desk may choose (none when the role may not record coverage); today."""

        actor = await current_actor(self, "patient.register")
        may_cover = allowed(actor.role, "coverage.edit")
        found, tz = await in_db(lambda s: (payers.desk_payers(s, actor=actor) if may_cover else [], display_zone(s, actor)))
        self.payer_options = [Option(value=NO_PAYER, label="None (self-pay)"),
                              *[Option(value=str(p.id), label=p.name) for p in found]]
        return today_at(tz).isoformat()

    @rx.event
    async def start(self):
        try:
            today = await self._load_payers()
        except ClinicError as exc:
            self.message = str(exc)
            return
        calendar = await self.get_state(CalendarState)
        calendar.show_panel("registration")
        if self.editing_id or self.context != "board":
            self.form, self.editing_id, self.history, self.problems = _blank(today), 0, [], {}
        self.context = "board"
        if not self.form.get("cov1_from"):
            self.form = {**self.form, "cov1_from": today, "cov2_from": today}
        self.panel_open = True
        self.message = ""

    @rx.event
    async def start_page(self):
        """on_load of the new-patient page: a fresh form, with what the header search held."""

        _, redirect = await page_actor(self, "patient.register")
        if redirect:
            return redirect
        try:
            today = await self._load_payers()
        except ClinicError as exc:
            self.message = str(exc)
            return None
        search = await self.get_state(PatientSearchState)
        self.form = {**_blank(today), **_prefill(search.query)}
        search.query, search.hits, search.error = "", [], ""  # what was typed is in the form now
        self.editing_id, self.history, self.problems, self.duplicate, self.message = 0, [], {}, False, ""
        self.context, self.panel_open = "page", True
        return None

    @rx.event
    async def edit_from_profile(self, patient_id: int):
        """Edit the patient whose profile is open (the same form and checks)."""

        try:
            wanted = as_id(patient_id)
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.context = "profile"
        return await self._open_edit(wanted)

    @rx.event
    async def start_edit(self):
        """Edit the patient chosen in the booking form."""
        self.context = "board"
        patient_id = (await self.get_state(BookingSection)).patient_id
        edited = await self._open_edit(patient_id)
        if self.panel_open and self.editing_id == patient_id and not self.message:
            (await self.get_state(CalendarState)).show_panel("registration")
        return edited

    async def _open_edit(self, patient_id: int):

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
        self.panel_open = True
        self.message = ""
        if self.context != "board":
            return None

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
            self.problems, self.message = _with_coverage_fields(exc), str(exc)
            return None
        except ClinicError as exc:
            self.message = str(exc)
            return None
        self.problems, self.message = {}, ""
        saved = f"Saved changes to {label}: {', '.join(changed).replace('_', ' ')}."
        if self.context == "profile":
            from clinic_app.state.patient_profile import ProfileState

            self.panel_open, self.editing_id, self.form, self.history = False, 0, _blank(), []
            profile = await self.get_state(ProfileState)
            profile._ok(saved)
            return ProfileState.load
        calendar = await self.get_state(CalendarState)
        booking = await self.get_state(BookingSection)
        if booking.patient_id == patient_id:
            booking.patient_label = label
        calendar._ok(saved)
        # The panel stays open with the saved values and the history brought up to date.
        return RegistrationState.start_edit

    def _registration(self) -> Registration:

        form = self.form
        coverages = [
            CoverageForm(**{field: form.get(f"cov{n}_{key}", "") for key, field in COVERAGE_KEYS.items()},
                         priority=str(n))
            for n in (1, 2)
        ]
        for cover in coverages:
            if cover.payer_id == NO_PAYER:
                cover.payer_id = ""
        return Registration(
            **{name: form.get(name, "") for name in TEXT_FIELDS},
            reminders_opt_out=form.get("reminders_opt_out") == "yes",
            consents={kind: form.get(f"consent_{kind}", "") for kind in CONSENTS},
            coverages=[] if self.editing_id else coverages,
        )

    @rx.event
    async def close(self):
        self.panel_open = False
        was_editing = self.editing_id
        if self.editing_id:  # what was typed for a patient on file is not kept for a new one
            self.form, self.editing_id, self.history, self.problems = _blank(), 0, [], {}
        if self.context == "page":
            return rx.call_script("window.history.back()")
        if self.context == "board":
            calendar = await self.get_state(CalendarState)
            if was_editing:
                calendar.show_panel("booking")  # back to the booking form it was opened from
            else:
                calendar._close_panel()
        return None

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
            self.problems = _with_coverage_fields(exc)
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
        if self.context == "page":

            return rx.redirect(routes.patient_profile(patient_id))
        calendar = await self.get_state(CalendarState)
        await (await self.get_state(BookingSection)).choose_registered(patient_id, label)
        calendar._ok(f"Registered {label}. Choose a time and book.")
        return None
