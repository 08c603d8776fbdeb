"""The Note section of the chart: SOAP (or DAP) text, the template and its fields,
signatures and addenda; autosave, and the flush every note-dependent action starts with.

Autosave does not send the saved text back: the browser already shows it, and an echo
arriving while the clinician types on would put older text back in the box. What the
screen shows that is not saved yet travels with the action that needs it
(``_flush``), and the state keeps, per section, the text this device last loaded or
saved (``_base``), the base of the two-device conflict check.
"""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from clinic_app.models import Note
from clinic_app.services.charting import charting, pending, released, templates
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError, DraftConflict
from clinic_app.state.auth import as_id
from clinic_app.state.chart import ChartSection, ChartState, chart_section
from clinic_app.state.common import in_db
from clinic_app.state.screen import FAILED


@dataclasses.dataclass
class Addendum:
    heading: str
    text: str


@dataclasses.dataclass
class TemplateOption:
    code: str
    name: str


@dataclasses.dataclass
class FieldShown:
    """A structured field of the note's template, as the page shows it."""

    key: str
    label: str
    kind: str
    value: str
    options: list[str]
    checked: list[str]
    field_id: str
    name: str  # the name the page's pending edits carry it by ("note:field:<key>")


@chart_section
class NoteSection(ChartSection, ChartState):
    """The note's text and structured fields."""

    _order: ClassVar[int] = 1

    subjective: str = ""
    objective: str = ""
    assessment: str = ""
    plan: str = ""
    label_subjective: str = "Subjective"
    label_objective: str = "Objective"
    label_assessment: str = "Assessment"
    label_plan: str = "Plan"
    template_options: list[TemplateOption] = []
    template_code: str = ""
    fields: list[FieldShown] = []
    saved_label: str = ""
    # The field an autosave refused ("plan", "field:rom_deg"): its message shows under it.
    error_field: str = ""
    # Set when another device saved a section this device was editing.
    conflict_field: str = ""
    conflict_text: str = ""
    signature_lines: list[str] = []
    addenda: list[Addendum] = []
    new_addendum: str = ""
    # The visit summary shared with the patient in the portal, and since when (words).
    summary_shared: bool = False
    summary_shared_line: str = ""

    _base: dict[str, str] = {}  # "<note id>:<section>" -> the text as this device last loaded or saved it
    _conflict_mine: str = ""

    # -- loading ----------------------------------------------------------------------------
    def _load(self, session: Session, actor: Actor) -> None:
        note = session.get(Note, self.note_id)
        if note is None:
            return
        for field in charting.SOAP_FIELDS:
            setattr(self, field, getattr(note, field) or "")
        self._base = {**{k: v for k, v in self._base.items() if not k.startswith(f"{note.id}:")},
                      **{f"{note.id}:{f}": getattr(note, f) or "" for f in charting.SOAP_FIELDS}}
        self._load_template(session, note)
        sig = charting.signatures(session, note=note)
        lines = []
        if sig["signed_at"]:
            by = f" by {sig['signed_by']}" if sig["signed_by"] else ""
            lines.append(f"Signed{by} on {self._when(sig['signed_at'])}.")
            if sig["cosigned_at"]:
                lines.append(f"Co-signed by {sig['cosigned_by']} on {self._when(sig['cosigned_at'])}.")
            elif sig["needs_cosignature"]:
                lines.append(f"Awaiting co-signature by {sig['supervisor']}; the visit is billed after it.")
        self.signature_lines = lines
        self.addenda = [
            Addendum(heading=f"Addendum by {a['author']}, {self._when(a['created_at'])}", text=a["text"])
            for a in charting.addenda(session, note_id=note.id)
        ]
        shared = released.sharing(session, note_id=note.id)
        self.summary_shared = shared.shared
        self.summary_shared_line = (f"Visit summary shared with the patient in the portal on {self._when(shared.since)}."
                                    if shared.shared else "The visit summary is not shared with the patient.")

    def _load_template(self, session: Session, note: Note) -> None:
        form = templates.form_of(session, note_id=note.id)
        self.template_options = [
            TemplateOption(code=t.code, name=t.name) for t in templates.templates_for(session, appointment_id=note.appointment_id)
        ]
        self.template_code = form.code
        labels = form.section_labels
        self.label_subjective, self.label_objective = labels["subjective"], labels["objective"]
        self.label_assessment, self.label_plan = labels["assessment"], labels["plan"]
        stored = templates.values(session, note_id=note.id)
        shown = []
        for f in form.fields:
            value = stored.get(f.key, "")
            options = [str(n) for n in range(f.low, f.high + 1)] if f.kind == "scale" else list(f.options)
            checked = json.loads(value or "[]") if f.kind == "checklist" else []
            label = f"{labels[f.section] or f.section.title()}: {f.label}" + (f" ({f.unit})" if f.unit else "")
            shown.append(FieldShown(key=f.key, label=label, kind=f.kind, value=value if f.kind != "checklist" else "",
                                    options=options, checked=checked, field_id=f"field-{f.key}",
                                    name=f"note:field:{f.key}"))
        self.fields = shown

    # -- what the screen shows, saved before an action ---------------------------------------------
    def _flush(self, session: Session, actor: Actor, edits: dict | None) -> list[str]:
        """Save ``edits`` (every note field on screen at the tap) before the action that
        depends on them; raises (the action then stops, its message naming the field)."""
        if not isinstance(edits, dict):
            return []
        edits = dict(edits)
        shown_note = edits.pop("_note", None)
        note_id = self.note_id
        if not note_id or not edits:
            return []
        if shown_note not in (None, "", note_id, str(note_id)):
            # The page showed another note than the one open here (a stale tab): save what it
            # showed to that note, and stop the action.
            pending.save_pending(session, actor=actor, note_id=as_id(shown_note), edits=edits)
            raise ClinicError("This page was showing another visit than the one open; its text is saved. "
                              "Open the visit again to go on.")
        base = {f: self._base.get(f"{note_id}:{f}") for f in charting.SOAP_FIELDS}
        try:
            saved = pending.save_pending(session, actor=actor, note_id=note_id, edits=edits,
                                          base={k: v for k, v in base.items() if v is not None})
        except DraftConflict as exc:
            self.conflict_field, self.conflict_text = exc.field, exc.saved_text
            self._conflict_mine = str(edits.get(exc.field, ""))
            self.saved_label = "Not saved"
            raise
        except ClinicError:
            self.saved_label = "Not saved"
            raise
        for key in saved:
            if key in charting.SOAP_FIELDS:
                setattr(self, key, edits[key])
                self._base = {**self._base, f"{note_id}:{key}": edits[key]}
        values = {k.removeprefix("field:"): v for k, v in edits.items() if k.startswith("field:")}
        if any(k.startswith("field:") for k in saved):
            stored = templates.values(session, note_id=note_id)
            self.fields = [dataclasses.replace(f, value=stored.get(f.key, values.get(f.key, f.value)))
                           if f.key in values and f.kind != "checklist" else f for f in self.fields]
        if saved:
            self.saved_label = "Draft saved"
            self.error_field = ""
        return saved

    # -- autosave -----------------------------------------------------------------------------
    async def _save_text(self, note_id: int, field: str, text: str, *, overwrite: bool = False) -> bool:
        key = f"{note_id}:{field}"
        base = None if overwrite else self._base.get(key)

        def work(session: Session, actor: Actor) -> None:
            charting.save_draft(session, actor=actor, note_id=note_id, field=field, text=text, base_text=base)
            if note_id == self.note_id:
                self._load_blockers(session)

        try:
            actor = await self._actor("note.edit")
            await in_db(lambda session: work(session, actor))
        except DraftConflict as exc:  # the other device's text is shown beside this one
            self.conflict_field, self.conflict_text, self._conflict_mine = field, exc.saved_text, text
            self.saved_label, self.error_field = "Not saved", field
            self._fail(exc)
            return False
        except ClinicError as exc:
            self.saved_label, self.error_field = "Not saved", field
            self._fail(exc)
            return False
        self._base = {**self._base, key: text}
        self.saved_label = "Draft saved"
        if self.conflict_field == field:
            self.conflict_field, self.conflict_text = "", ""
        if self.error_field == field:  # the refusal under this section is over
            self.error_field = ""
            self._clear()
        return True

    @rx.event
    async def save_text(self, note_id: int, field: str, text: str):
        """Autosave one section (debounced in the page). The text stays on screen whatever happens."""
        field, text = str(field), str(text)
        if field not in charting.SOAP_FIELDS:
            return None
        try:
            wanted = as_id(note_id)
        except ClinicError as exc:
            return self._fail(exc)
        await self._save_text(wanted, field, text)
        return None

    @rx.event
    async def keep_my_text(self, edits: dict | None = None):
        """Resolve a conflict by saving this device's text (as the screen shows it) over the other's."""
        field = self.conflict_field
        if field not in charting.SOAP_FIELDS:
            return None
        mine = str((edits or {}).get(field, self._conflict_mine)) if isinstance(edits, dict) else self._conflict_mine
        if await self._save_text(self.note_id, field, mine, overwrite=True):
            setattr(self, field, mine)
            self._ok(f"Your {field} text is saved.")
        return None

    @rx.event
    def use_other_text(self):
        """Resolve a conflict by taking the text the other device saved (this device's text is dropped)."""
        field = self.conflict_field
        if field not in charting.SOAP_FIELDS:
            return
        setattr(self, field, self.conflict_text)
        self._base = {**self._base, f"{self.note_id}:{field}": self.conflict_text}
        self.conflict_field, self.conflict_text = "", ""
        self.saved_label, self.error_field = "", ""
        self._ok(f"The {field} section now shows the other device's text.")

    # -- template fields --------------------------------------------------------------------------
    async def _save_field(self, note_id: int, key: str, value):
        def work(session: Session, actor: Actor):
            stored = templates.save_field(session, actor=actor, note_id=note_id, key=key, value=value)
            return stored

        stored = await self._act("note.edit", work)
        if stored is FAILED:
            self.saved_label, self.error_field = "Not saved", f"field:{key}"
            return FAILED
        self.saved_label = "Draft saved"
        if self.error_field == f"field:{key}":
            self.error_field = ""
            self._clear()
        return stored

    @rx.event
    async def save_field(self, note_id: int, key: str, value: str):
        """Autosave a text or number field (debounced), or a choice or scale (at once); what
        was typed stays on screen if it is refused."""
        key, value = str(key), str(value)
        try:
            wanted = as_id(note_id)
        except ClinicError as exc:
            return self._fail(exc)
        kind = next((f.kind for f in self.fields if f.key == key), "")
        stored = await self._save_field(wanted, key, value)
        if stored is not FAILED and kind in ("choice", "scale") and wanted == self.note_id:
            self.fields = [dataclasses.replace(f, value=stored) if f.key == key else f for f in self.fields]
        return None

    @rx.event
    async def toggle_check(self, key: str, option: str, checked: bool):
        """Tick or untick one item of a checklist field."""
        key, option = str(key), str(option)
        current = next((f for f in self.fields if f.key == key), None)
        if current is None:
            return
        picked = [o for o in current.options if (o == option and checked) or (o != option and o in current.checked)]
        stored = await self._save_field(self.note_id, key, picked)
        if stored is not FAILED:
            self.fields = [dataclasses.replace(f, checked=json.loads(stored)) if f.key == key else f for f in self.fields]

    @rx.event
    async def choose_template(self, code: str, edits: dict | None = None):
        """Write this draft with another template (values of shared fields are kept)."""
        code, note_id = str(code), self.note_id

        def work(session: Session, actor: Actor):
            self._flush(session, actor, edits)
            chosen = templates.use_template(session, actor=actor, note_id=note_id, code=code)
            self._load(session, actor)
            return chosen.name

        await self._act("note.edit", work, done=lambda name: f"Template: {name}.")

    # -- addenda ----------------------------------------------------------------------------------
    @rx.event
    def set_new_addendum(self, text: str):
        self.new_addendum = str(text)[:5000]

    @rx.event
    async def add_addendum(self):
        """Add the typed addendum to the signed note; the original stays as it was."""
        text, note_id = self.new_addendum, self.note_id

        def work(session: Session, actor: Actor):
            charting.add_addendum(session, actor=actor, note_id=as_id(note_id), text=text)
            self._load(session, actor)

        if await self._act("note.addendum", work, done="Addendum added.") is not FAILED:
            self.new_addendum = ""  # a refused addendum stays in the box

    # -- sharing the visit summary with the patient ----------------------------------------------
    async def _share(self, change) -> None:
        """Share or stop sharing; the line by the button then says which, and since when."""
        note_id = self.note_id

        def work(session: Session, actor: Actor):
            change(session, actor=actor, note_id=as_id(note_id))
            self._load(session, actor)

        await self._act("note.sign", work)

    @rx.event
    async def share_summary(self):
        """Share the signed note's visit summary: the patient sees it under My care."""
        await self._share(released.share_visit_summary)

    @rx.event
    async def stop_sharing(self):
        """Take the visit summary back from the portal."""
        await self._share(released.stop_sharing)
