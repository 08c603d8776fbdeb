"""The patient's intake page (/intake?token=...): no sign-in, the link's token and the patient's
date of birth open one visit's forms. Every rule is in services/portal/intake.py.

Nothing about the patient is sent to the browser before the date of birth is confirmed. The
token and the confirmed date stay in backend vars (never sent back to the page). Each field
is saved when the patient leaves it (and by "Save and finish later"), so a reload mid-way
opens on what was saved; a refused save keeps what was typed on screen.
"""

from __future__ import annotations

import dataclasses
import json

import reflex as rx

from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import intake
from clinic_app.state.common import in_db

SIGNATURES_JS = "window.clinicIntakeSignatures ? window.clinicIntakeSignatures() : {}"


@dataclasses.dataclass
class FieldView:
    """One field of the form on screen, with what the patient has typed or picked."""

    key: str
    kind: str
    label: str  # the label as shown, "(required)" in words where it is
    field_id: str
    options: list[str]
    points: list[str]  # a scale's buttons
    unit: str
    text: str  # a consent's text
    value: str  # text, number, choice, scale
    picked: list[str]  # a checklist's ticks


def _view(f: intake.IntakeField, given: dict) -> FieldView:
    value = given.get(f.key, "")
    picked = value if isinstance(value, list) else ([value] if value and f.kind == "checklist" else [])
    label = f.label + (" (required)" if f.required and f.kind != "consent" else "")
    if f.kind == "number" and f.unit:
        label += f", in {f.unit}"
    return FieldView(
        key=f.key, kind=f.kind, label=label, field_id=f"intake-{f.key}", options=list(f.options),
        points=[str(n) for n in range(f.low, f.high + 1)] if f.kind == "scale" else [], unit=f.unit, text=f.text,
        value="" if isinstance(value, list) else str(value), picked=picked if f.kind == "checklist" else [],
    )


class IntakeState(rx.State):
    """One visit's intake, opened by its link."""

    _token: str = ""
    _birth_date: str = ""
    stage: str = "loading"  # loading / birth_date / form / done / closed
    message: str = ""
    message_is_error: bool = False
    birth_date_input: str = ""
    first_name: str = ""
    visit_words: str = ""
    form_code: str = ""
    form_title: str = ""
    form_words: str = ""  # "Form 1 of 2"
    saved_words: str = ""  # "Saved at 08:05" after a save
    fields: list[FieldView] = []
    busy: bool = False

    def _say(self, text: str, error: bool = False) -> None:
        self.message, self.message_is_error = text, error

    @rx.event
    def open(self):
        """The page opened: keep the token, ask for the date of birth (nothing else is shown)."""
        self._token = str(self.router.url.query_parameters.get("token", ""))[:100]
        self._birth_date = ""
        self.birth_date_input, self.first_name, self.visit_words, self.fields = "", "", "", []
        self.form_code, self.form_title, self.form_words, self.saved_words = "", "", "", ""
        self._say("")
        self.stage = "birth_date" if self._token else "closed"
        if not self._token:
            self._say("This page opens from the link in your e-mail from the clinic.", True)

    @rx.event
    def set_birth_date_input(self, value: str):
        self.birth_date_input = str(value)[:10]

    @rx.event
    async def confirm_birth_date(self):
        token, typed = self._token, self.birth_date_input.strip()
        if not typed:
            return self._say("Enter your date of birth.", True)
        try:
            right = await in_db(lambda s: intake.confirm_birth_date(s, token=token, birth_date=typed))
        except ClinicError as exc:
            return self._say(str(exc), True)
        if not right:
            return self._say("That date of birth does not match our records for this visit. Check it and try again.", True)
        self._birth_date = typed
        self._say("")
        return await self._reload()

    async def _reload(self) -> None:
        token, born = self._token, self._birth_date
        try:
            seen = await in_db(lambda s: intake.visit_intake(s, token=token, birth_date=born))
        except ClinicError as exc:
            self.stage, self.fields = "closed", []
            return self._say(str(exc), True)
        self.first_name, self.visit_words = seen.first_name, seen.visit_words
        if not seen.forms:
            self.stage, self.fields = "done", []
            return None
        first = seen.forms[0]
        self.form_code, self.form_title = first.form.code, first.form.title
        self.form_words = f"Form 1 of {len(seen.forms)}" if len(seen.forms) > 1 else ""
        self.fields = [_view(f, first.answers) for f in first.form.fields]
        self.stage = "form"
        return None

    def _answers(self) -> dict:
        return {f.key: (list(f.picked) if f.kind == "checklist" else f.value) for f in self.fields if f.kind != "consent"}

    def _replace(self, key: str, **change) -> None:
        self.fields = [dataclasses.replace(f, **change) if f.key == key else f for f in self.fields]

    @rx.event
    def set_value(self, key: str, value: str):
        self._replace(str(key), value=str(value)[:2000])

    @rx.event
    async def pick(self, key: str, value: str):
        """A scale's button or a choice: kept and saved at once."""
        self._replace(str(key), value=str(value)[:200])
        return await self.save()

    @rx.event
    async def tick(self, key: str, option: str, checked: bool):
        field = next((f for f in self.fields if f.key == str(key)), None)
        if field is None:
            return None
        picked = [o for o in field.options if (o == option and checked) or (o != option and o in field.picked)]
        self._replace(field.key, picked=picked)
        return await self.save()

    @rx.event
    async def save(self):
        """Save what is typed so far (answers may be incomplete); a refusal keeps it on screen."""
        if self.stage != "form":
            return None
        token, born, code, answers = self._token, self._birth_date, self.form_code, self._answers()
        try:
            row = await in_db(lambda s: intake.save_answers(s, token=token, birth_date=born, form_code=code, answers=answers))
        except ClinicError as exc:
            return self._say(str(exc), True)
        self.saved_words = f"Saved at {row.updated_at:%H:%M} UTC. You can come back to this link to finish."
        self._say("")
        return None

    @rx.event
    def submit(self):
        """Collect the drawn signatures from the page, then submit (``finish``)."""
        if self.stage != "form" or self.busy:
            return None
        self.busy = True
        return rx.call_script(SIGNATURES_JS, callback=IntakeState.finish)

    @rx.event
    async def finish(self, signatures):
        token, born, code, answers = self._token, self._birth_date, self.form_code, self._answers()
        if isinstance(signatures, str):
            try:
                signatures = json.loads(signatures or "{}")
            except ValueError:
                signatures = {}
        drawn = {str(k): str(v) for k, v in (signatures or {}).items() if v} if isinstance(signatures, dict) else {}
        title = self.form_title

        def work(session) -> int:
            row = intake.save_answers(session, token=token, birth_date=born, form_code=code, answers=answers,
                                      signatures=drawn, complete=True)
            return len(intake.pending_forms(session, appointment_id=row.appointment_id))

        try:
            remaining = await in_db(work)
        except ClinicError as exc:
            self.busy = False
            return self._say(str(exc), True)
        self.busy, self.saved_words = False, ""
        if remaining:
            await self._reload()
            return self._say(f"{title} is complete. Please fill in the next form.")
        self.stage, self.fields = "done", []
        return self._say(f"{title} is complete. Thank you: the clinic has your forms.")
