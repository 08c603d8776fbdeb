"""Admin screens for charting: note templates (kept as versions) and the clinic's own
outcome measures. Every rule is in services/charting/templates.py and services/charting/measures.py; these
states hold what the admin is typing, so a refused save loses nothing."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import reflex as rx
from sqlmodel import select

from clinic_app.models import AppointmentType, Provider, User
from clinic_app.services.charting import clinicians, measures, templates
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.portal import intake
from clinic_app.state.auth import current_actor, page_actor
from clinic_app.state.common import Option, in_db


@dataclasses.dataclass
class TemplateRow:
    code: str
    name: str
    discipline: str
    kinds: str
    form: str
    version: str
    status: str
    retired: bool


@dataclasses.dataclass
class FieldDraft:
    """One field of the template being edited, as typed (numbers stay text until saved)."""

    index: int
    key: str
    label: str
    section: str
    kind: str
    options: str  # one per line
    low: str
    high: str
    unit: str
    name: str  # for buttons: "Move Pain up"


@dataclasses.dataclass
class MeasureRow:
    code: str
    name: str
    item_words: str
    scoring: str
    mcid: str
    status: str
    active: bool


def _draft(i: int, f: templates.TemplateField) -> FieldDraft:
    return FieldDraft(index=i, key=f.key, label=f.label, section=f.section, kind=f.kind, options="\n".join(f.options),
                      low=str(f.low), high=str(f.high), unit=f.unit, name=f.label or f"field {i + 1}")


def _renumber(fields: list) -> list:
    """A form's field drafts (a template's, an intake form's) in order, each knowing its place and
    named by its label for the buttons that move or remove it."""
    return [dataclasses.replace(f, index=i, name=f.label or f"field {i + 1}") for i, f in enumerate(fields)]


class _FieldList(rx.State, mixin=True):
    """Moving and removing a form's field drafts (``edit_fields``), for the template and the
    intake form editors alike."""

    @rx.event
    def move_field(self, index: int, step: int):
        i, j = int(index), int(index) + int(step)
        if 0 <= i < len(self.edit_fields) and 0 <= j < len(self.edit_fields):
            fields = list(self.edit_fields)
            fields[i], fields[j] = fields[j], fields[i]
            self.edit_fields = _renumber(fields)

    @rx.event
    def remove_field(self, index: int):
        self.edit_fields = _renumber([f for f in self.edit_fields if f.index != int(index)])


class _AdminPage(rx.State, mixin=True):
    """What the three charting admin pages share: a permission, a message, a load."""

    _permission: ClassVar[str] = ""
    message: str = ""
    message_is_error: bool = False

    @rx.event
    async def load(self):
        actor, redirect = await page_actor(self, self._permission)
        if redirect:
            return redirect
        return await self._refresh(actor)

    async def _refresh(self, actor):
        raise NotImplementedError


class TemplateAdminState(_FieldList, _AdminPage, rx.State):
    """The template list (filtered by discipline and visit kind) and the editor."""

    _permission: ClassVar[str] = "template.edit"
    rows: list[TemplateRow] = []
    disciplines: list[Option] = []
    visit_kinds: list[str] = []
    filter_discipline: str = "all"
    filter_kind: str = "all"
    # The editor: -1 = closed, 0.. = the version opened (0 = as shipped), -2 = a new template.
    edit_version: int = -1
    edit_code: str = ""
    edit_name: str = ""
    edit_discipline: str = ""
    edit_form: str = "SOAP"
    edit_kinds: list[str] = []
    label_subjective: str = ""
    label_objective: str = ""
    label_assessment: str = ""
    label_plan: str = ""
    edit_fields: list[FieldDraft] = []
    edit_retired: bool = False
    edit_history: list[str] = []  # the template's saved versions in words, newest first

    @rx.var
    def editing(self) -> bool:
        return self.edit_version != -1

    @rx.var
    def is_new(self) -> bool:
        return self.edit_version == -2

    @rx.var
    def version_words(self) -> str:
        if self.edit_version == -2:
            return "New template"
        if self.edit_version == 0:
            return "As shipped (version 0); saving makes version 1"
        return f"Version {self.edit_version}; saving makes version {self.edit_version + 1}"

    async def _refresh(self, actor):
        discipline = "" if self.filter_discipline == "all" else self.filter_discipline
        kind = "" if self.filter_kind == "all" else self.filter_kind

        def work(session):
            listed = templates.listing(session, actor=actor, discipline=discipline, visit_kind=kind)
            known = {p for p in session.exec(select(Provider.discipline)) if p}
            known |= {t.discipline for t in templates.catalogue(session).values() if t.discipline}
            kinds = list(session.exec(select(AppointmentType.name).order_by(AppointmentType.name)))
            return listed, sorted(known), kinds

        listed, known, kinds = await in_db(work)
        self.rows = [
            TemplateRow(code=t.code, name=t.name, discipline=t.discipline.capitalize() or "Any discipline",
                        kinds=", ".join(t.visit_kinds) or "Any visit kind", form=t.form, version=str(t.version),
                        status="Retired" if t.retired else "In use", retired=t.retired)
            for t in listed
        ]
        self.disciplines = [Option(value="all", label="All disciplines"), *[Option(value=d, label=d.capitalize()) for d in known]]
        self.visit_kinds = kinds
        return None

    async def _refilter(self):
        try:
            actor = await current_actor(self, self._permission)
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        return await self._refresh(actor)

    @rx.event
    async def set_filter_discipline(self, value: str):
        self.filter_discipline = str(value)
        return await self._refilter()

    @rx.event
    async def set_filter_kind(self, value: str):
        self.filter_kind = str(value)
        return await self._refilter()

    def _open(self, t: templates.Template | None) -> None:
        self.edit_version = -2 if t is None else t.version
        self.edit_code = "" if t is None else t.code
        self.edit_name = "" if t is None else t.name
        self.edit_discipline = "" if t is None else t.discipline
        self.edit_form = "SOAP" if t is None else t.form
        self.edit_kinds = [] if t is None else list(t.visit_kinds)
        own = dict(t.labels) if t is not None else {}
        self.label_subjective, self.label_objective = own.get("subjective", ""), own.get("objective", "")
        self.label_assessment, self.label_plan = own.get("assessment", ""), own.get("plan", "")
        self.edit_fields = [] if t is None else [_draft(i, f) for i, f in enumerate(t.fields)]
        self.edit_retired = False if t is None else t.retired
        self.edit_history = []
        self.message = ""

    @rx.event
    async def open_template(self, code: str):
        try:
            await current_actor(self, self._permission)
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return
        found = await in_db(lambda s: templates.catalogue(s).get(str(code)))
        if found is not None:
            self._open(found)
            await self._load_history(await current_actor(self, self._permission))

    async def _load_history(self, actor) -> None:
        code = self.edit_code

        def work(session):
            rows = templates.history(session, actor=actor, code=code)
            ids = [r.created_by_user_id for r in rows]
            names = dict(session.exec(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}
            return [
                f"Version {r.version}, {r.created_at:%Y-%m-%d %H:%M} UTC, by {names.get(r.created_by_user_id, 'unknown')}"
                + (": retired" if r.retired else "")
                for r in rows
            ]

        self.edit_history = await in_db(work)

    @rx.event
    def new_template(self):
        self._open(None)

    @rx.event
    def close_editor(self):
        self.edit_version = -1

    @rx.event
    def set_edit_code(self, value: str):
        self.edit_code = str(value).upper()[:24]

    @rx.event
    def set_edit_name(self, value: str):
        self.edit_name = str(value)[:120]

    @rx.event
    def set_edit_discipline(self, value: str):
        self.edit_discipline = str(value)[:40]

    @rx.event
    def set_edit_form(self, value: str):
        self.edit_form = "DAP" if str(value) == "DAP" else "SOAP"

    @rx.event
    def set_label(self, section: str, value: str):
        if section in templates.SECTIONS:
            setattr(self, f"label_{section}", str(value)[:40])

    @rx.event
    def toggle_kind(self, kind: str, checked: bool):
        kind = str(kind)
        picked = [k for k in self.visit_kinds if (k == kind and checked) or (k != kind and k in self.edit_kinds)]
        self.edit_kinds = picked

    @rx.event
    def set_field(self, index: int, attr: str, value: str):
        if attr not in ("label", "section", "kind", "options", "low", "high", "unit"):
            return
        limit = 1200 if attr == "options" else 80
        self.edit_fields = _renumber([
            dataclasses.replace(f, **{attr: str(value)[:limit]}) if f.index == int(index) else f for f in self.edit_fields
        ])

    @rx.event
    def add_template_field(self):
        section = "subjective"
        new = FieldDraft(index=len(self.edit_fields), key="", label="", section=section, kind="text", options="", low="0",
                         high="10", unit="", name="")
        self.edit_fields = _renumber([*self.edit_fields, new])

    @rx.event
    async def save(self):
        """Save the template as its next version; on a refusal everything typed stays."""
        fields = [
            {"key": f.key, "label": f.label, "section": f.section, "kind": f.kind, "options": f.options, "low": f.low,
             "high": f.high, "unit": f.unit}
            for f in self.edit_fields
        ]
        args = {
            "code": self.edit_code, "name": self.edit_name, "discipline": self.edit_discipline, "visit_kinds": list(self.edit_kinds),
            "form": self.edit_form, "fields": fields, "expected_version": None if self.edit_version == -2 else self.edit_version,
            "section_labels": {"subjective": self.label_subjective, "objective": self.label_objective,
                               "assessment": self.label_assessment, "plan": self.label_plan},
        }
        try:
            actor = await current_actor(self, "template.edit")
            saved, changed = await in_db(lambda s: templates.save_template(s, actor=actor, **args))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        self._open(saved)
        await self._load_history(actor)
        self.message, self.message_is_error = (
            (f"Saved {saved.name} as version {saved.version}. Notes already written keep the version they used."
             if changed else "Nothing changed; no new version saved."),
            False,
        )
        return await self._refresh(actor)

    async def _retire(self, retired: bool):
        code, version = self.edit_code, self.edit_version
        try:
            actor = await current_actor(self, "template.edit")
            saved = await in_db(lambda s: templates.set_retired(s, actor=actor, code=code, retired=retired, expected_version=version))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        self._open(saved)
        await self._load_history(actor)
        self.message = (f"{saved.name} retired: not offered for new notes; notes written with it are unchanged."
                        if retired else f"{saved.name} is offered again for new notes.")
        self.message_is_error = False
        return await self._refresh(actor)

    @rx.event
    async def retire(self):
        return await self._retire(True)

    @rx.event
    async def restore(self):
        return await self._retire(False)


class MeasureAdminState(_AdminPage, rx.State):
    """The clinic's own outcome measures: define one, retire or bring one back."""

    _permission: ClassVar[str] = "measure.define"
    rows: list[MeasureRow] = []

    async def _refresh(self, actor):
        defs = await in_db(lambda s: measures.clinic_measures(s, actor=actor))
        self.rows = [
            MeasureRow(code=d.code, name=d.name, item_words=f"{len(d.items)} item(s), each {d.range_words}", scoring=d.scoring_words,
                       mcid=f"{d.mcid:g}", status="In use" if d.active else "Retired", active=d.active)
            for d in defs
        ]
        return None

    @rx.event
    async def define(self, form: dict):
        """Define a measure from the form; a refusal keeps the form as typed (the form is not reset)."""
        try:
            actor = await current_actor(self, "measure.define")
            args = {
                "code": str(form.get("code", ""))[:16], "name": str(form.get("name", ""))[:120],
                "items": str(form.get("items", ""))[:20_000].splitlines(),
                "item_min": _number(form.get("item_min"), "Lowest item score", whole=True),
                "item_max": _number(form.get("item_max"), "Highest item score", whole=True),
                "scoring": str(form.get("scoring", "")), "mcid": _number(form.get("mcid"), "MCID"),
                "higher_is_better": str(form.get("direction", "higher")) == "higher",
            }
            row = await in_db(lambda s: measures.define_measure(s, actor=actor, **args))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        self.message, self.message_is_error = f"{row.code} defined; clinicians can score it on the chart now.", False
        await self._refresh(actor)
        return rx.set_value("measure-code", "")

    async def _set_active(self, code: str, active: bool):
        try:
            actor = await current_actor(self, "measure.define")
            await in_db(lambda s: measures.set_active(s, actor=actor, code=str(code), active=active))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        self.message = f"{code} {'is offered again' if active else 'retired: no longer offered; scores already taken are kept'}."
        self.message_is_error = False
        return await self._refresh(actor)

    @rx.event
    async def retire(self, code: str):
        return await self._set_active(code, False)

    @rx.event
    async def restore(self, code: str):
        return await self._set_active(code, True)


def _number(value, what: str, *, whole: bool = False):
    text = str(value if value is not None else "").strip()
    try:
        return int(text) if whole else float(text)
    except ValueError:
        raise InvalidInput(f"{what}: enter {'a whole number' if whole else 'a number'}.") from None


@dataclasses.dataclass
class ClinicianRow:
    id: int
    name: str
    discipline: str
    assistant_kind: str
    supervisor: str  # provider id as text, "" = none
    words: str


class ClinicianAdminState(_AdminPage, rx.State):
    """Who is a therapy assistant (CQ/CO on their charges) and who supervises whom."""

    _permission: ClassVar[str] = "clinician.setup"
    rows: list[ClinicianRow] = []
    choices: list[Option] = []

    async def _refresh(self, actor):
        roster = await in_db(lambda s: clinicians.roster(s, actor=actor))
        self.rows = [
            ClinicianRow(
                id=r.id, name=r.name, discipline=r.discipline.capitalize(), assistant_kind=r.assistant_kind,
                supervisor=str(r.supervisor_id or ""),
                words=(clinicians.ASSISTANT_KINDS[r.assistant_kind] if r.assistant_kind else "Signs on their own")
                + (f"; notes co-signed by {r.supervisor_name}" if r.supervisor_name else ""),
            )
            for r in roster
        ]
        self.choices = [Option(value="", label="No supervisor"), *[Option(value=str(r.id), label=r.name) for r in roster]]
        return None

    async def _change(self, change, done: str):
        try:
            actor = await current_actor(self, self._permission)
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        try:
            await in_db(lambda s: change(s, actor))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
        else:
            self.message, self.message_is_error = done, False
        # Redrawn either way, so a refused choice snaps back to what is stored.
        return await self._refresh(actor)

    @rx.event
    async def set_kind(self, provider_id: int, kind: str):
        pid, kind = int(provider_id), str(kind)
        name = next((r.name for r in self.rows if r.id == pid), "")
        words = clinicians.ASSISTANT_KINDS.get(kind, kind)
        return await self._change(lambda s, a: clinicians.set_assistant_kind(s, actor=a, provider_id=pid, kind=kind),
                                  f"{name}: {words}. Charges captured from now on follow this.")

    @rx.event
    async def set_supervisor(self, provider_id: int, supervisor: str):
        pid, sup = int(provider_id), (int(supervisor) if str(supervisor).isdigit() else None)
        name = next((r.name for r in self.rows if r.id == pid), "")
        sup_name = next((r.name for r in self.rows if r.id == sup), "")
        done = f"{name}'s notes are co-signed by {sup_name}." if sup else f"{name} signs on their own."
        return await self._change(
            lambda s, a: clinicians.set_supervisor(s, actor=a, provider_id=pid, supervisor_provider_id=sup), done)


# -- intake forms (services/portal/intake.py) -------------------------------------------------
@dataclasses.dataclass
class IntakeFormRow:
    code: str
    title: str
    kinds: str
    version: str
    status: str
    retired: bool


@dataclasses.dataclass
class IntakeFieldDraft:
    """One field of the intake form being edited, as typed."""

    index: int
    key: str
    label: str
    kind: str
    required: bool
    options: str  # one per line
    low: str
    high: str
    unit: str
    text: str  # a consent's text
    name: str  # for buttons: "Remove Weight"


def _intake_draft(i: int, f: intake.IntakeField) -> IntakeFieldDraft:
    return IntakeFieldDraft(index=i, key=f.key, label=f.label, kind=f.kind, required=f.required, options="\n".join(f.options),
                            low=str(f.low), high=str(f.high), unit=f.unit, text=f.text, name=f.label or f"field {i + 1}")


class IntakeAdminState(_FieldList, _AdminPage, rx.State):
    """Intake forms on the templates page: what a patient fills before the first visit of the
    appointment types chosen; every save is a new version (answers keep theirs)."""

    _permission: ClassVar[str] = "template.edit"
    rows: list[IntakeFormRow] = []
    appointment_types: list[str] = []
    edit_version: int = -1  # -1 closed, -2 new, 1.. the version opened
    edit_code: str = ""
    edit_title: str = ""
    edit_kinds: list[str] = []
    edit_fields: list[IntakeFieldDraft] = []
    edit_retired: bool = False

    async def _refresh(self, actor):
        def work(session):
            return (intake.listing(session, actor=actor),
                    list(session.exec(select(AppointmentType.name).order_by(AppointmentType.name))))

        forms, kinds = await in_db(work)
        self.rows = [IntakeFormRow(code=f.code, title=f.title, kinds=", ".join(f.visit_kinds) or "No appointment type yet",
                                   version=str(f.version), status="Retired" if f.retired else "In use", retired=f.retired)
                     for f in forms]
        self.appointment_types = kinds
        return None

    def _open(self, form: intake.Form | None) -> None:
        self.edit_version = -2 if form is None else form.version
        self.edit_code = "" if form is None else form.code
        self.edit_title = "" if form is None else form.title
        self.edit_kinds = [] if form is None else list(form.visit_kinds)
        self.edit_fields = [] if form is None else [_intake_draft(i, f) for i, f in enumerate(form.fields)]
        self.edit_retired = bool(form and form.retired)

    @rx.event
    async def new_form(self):
        try:
            await current_actor(self, self._permission)
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return
        self._open(None)
        self.message = ""

    @rx.event
    async def open_form(self, code: str):
        try:
            await current_actor(self, self._permission)
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return
        found = await in_db(lambda s: intake.catalogue(s).get(str(code)))
        if found is not None:
            self._open(found)
            self.message = ""

    @rx.event
    def close_form(self):
        self.edit_version = -1

    @rx.event
    def set_edit_code(self, value: str):
        self.edit_code = str(value).upper()[:24]

    @rx.event
    def set_edit_title(self, value: str):
        self.edit_title = str(value)[:120]

    @rx.event
    def toggle_kind(self, kind: str, checked: bool):
        kind = str(kind)
        self.edit_kinds = [k for k in self.appointment_types if (k == kind and checked) or (k != kind and k in self.edit_kinds)]

    @rx.event
    def set_field(self, index: int, attr: str, value):
        if attr == "required":
            change = {"required": bool(value)}
        elif attr in ("label", "kind", "options", "low", "high", "unit", "text"):
            change = {attr: str(value)[:intake.MAX_CONSENT_TEXT if attr == "text" else 1200 if attr == "options" else 80]}
        else:
            return
        self.edit_fields = _renumber([dataclasses.replace(f, **change) if f.index == int(index) else f
                                             for f in self.edit_fields])

    @rx.event
    def add_intake_field(self):
        new = IntakeFieldDraft(index=len(self.edit_fields), key="", label="", kind="text", required=False, options="",
                               low="0", high="10", unit="", text="", name="")
        self.edit_fields = _renumber([*self.edit_fields, new])

    @rx.event
    async def save(self):
        """Save the form as its next version; on a refusal everything typed stays."""
        fields = [{"key": f.key, "label": f.label, "kind": f.kind, "required": f.required, "options": f.options,
                   "low": f.low, "high": f.high, "unit": f.unit, "text": f.text} for f in self.edit_fields]
        args = {"code": self.edit_code, "title": self.edit_title, "visit_kinds": list(self.edit_kinds), "fields": fields,
                "expected_version": None if self.edit_version == -2 else self.edit_version}
        try:
            actor = await current_actor(self, self._permission)
            saved, changed = await in_db(lambda s: intake.save_form(s, actor=actor, **args))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        self._open(saved)
        self.message = (f"Saved {saved.title} as version {saved.version}. Answers already given keep the version they answered."
                        if changed else "Nothing changed; no new version saved.")
        self.message_is_error = False
        return await self._refresh(actor)

    async def _retire(self, retired: bool):
        code, version = self.edit_code, self.edit_version
        try:
            actor = await current_actor(self, self._permission)
            saved = await in_db(lambda s: intake.set_retired(s, actor=actor, code=code, retired=retired,
                                                             expected_version=version))
        except ClinicError as exc:
            self.message, self.message_is_error = str(exc), True
            return None
        self._open(saved)
        self.message = (f"{saved.title} retired: no longer asked for; answers given are kept." if retired
                        else f"{saved.title} is asked for again.")
        self.message_is_error = False
        return await self._refresh(actor)

    @rx.event
    async def retire(self):
        return await self._retire(True)

    @rx.event
    async def restore(self):
        return await self._retire(False)
