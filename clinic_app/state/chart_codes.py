"""Codes & billing: the visit's diagnoses (found by words in the offline ICD-10-CM, or one
tap from the problem list) and procedure lines with their minutes, units and modifiers."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from clinic_app.services.charting import charting, history
from clinic_app.services.charting.codes import describe_icd10, search_icd10
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError
from clinic_app.state.auth import as_id
from clinic_app.state.chart import ChartSection, ChartState, chart_section
from clinic_app.state.screen import FAILED

HITS = 8


@dataclasses.dataclass
class Diagnosis:
    code: str
    description: str
    remove_label: str


@dataclasses.dataclass
class CodeHit:
    """A billable ICD-10-CM code offered for the note, with its title."""

    code: str
    description: str
    add_label: str


@dataclasses.dataclass
class Procedure:
    code: str
    units: int
    minutes: str
    modifiers: str
    minutes_id: str
    minutes_name: str  # the name the page's pending edits carry it by ("note:minutes:<code>")
    minutes_label: str
    remove_label: str


@chart_section
class CodesSection(ChartSection, ChartState):
    """Diagnoses and procedures of the open visit."""

    _order: ClassVar[int] = 2
    _affects_signing: ClassVar[bool] = True

    diagnoses: list[Diagnosis] = []
    dx_query: str = ""
    dx_hits: list[CodeHit] = []
    from_problems: list[CodeHit] = []
    procedures: list[Procedure] = []
    new_procedure: str = ""
    new_units: str = "1"
    new_minutes: str = ""
    new_modifiers: str = ""
    assistant_words: str = ""  # "CQ is added to every line: ..." on a PTA's or OTA's note
    unit_warnings: list[str] = []

    def _load(self, session: Session, actor: Actor) -> None:
        note_id = self.note_id
        codes = [d.code for d in charting.diagnoses(session, note_id=note_id)]
        self.diagnoses = [Diagnosis(code=c, description=describe_icd10(c), remove_label=f"Remove {c}") for c in codes]
        self.procedures = [
            Procedure(code=p.code, units=p.units, minutes=str(p.minutes or ""),
                      modifiers=("modifiers " + p.modifiers.replace(",", ", ")) if p.modifiers else "",
                      minutes_id=f"minutes-{p.code}", minutes_name=f"note:minutes:{p.code}",
                      minutes_label=f"Minutes of {p.code}", remove_label=f"Remove {p.code}")
            for p in charting.procedures(session, note_id=note_id)
        ]
        provider_id = charting.readable_note(session, actor=actor, note_id=note_id).provider_id
        automatic = charting.assistant_modifier(session, provider_id=provider_id)
        self.assistant_words = (
            f"{automatic} is added to every line when the charges are captured: this note is by a therapy assistant."
            if automatic else ""
        )
        self.unit_warnings = [] if self.signed else charting.unit_warnings(session, note_id=note_id)
        problems = history.summary(session, actor=actor, patient_id=self._patient_id)["problems"] \
            if self.own_note and not self.signed else []
        self.from_problems = [
            CodeHit(code=p.code, description=describe_icd10(p.code),
                    add_label=f"Add {p.code} {describe_icd10(p.code)} (from the problem list)")
            for p in problems if p.code not in codes
        ]
        self.dx_hits = [h for h in self.dx_hits if h.code not in codes]

    # -- diagnoses -----------------------------------------------------------------------------
    @rx.event
    async def search_diagnosis(self, text: str):
        """Offline ICD-10-CM search by words or code: billable codes only, with their titles."""
        self.message_at = "dx"
        self.dx_query = str(text)[:60]
        query, have = self.dx_query, {d.code for d in self.diagnoses}
        hits = await asyncio.to_thread(search_icd10, query, limit=HITS + len(have))
        self.dx_hits = [CodeHit(code=c, description=d, add_label=f"Add {c} {d}") for c, d in hits if c not in have][:HITS]
        if query.strip() and len(query.strip()) >= 2 and not self.dx_hits:
            self._ok(f"No billable ICD-10-CM code matches {query.strip()!r}; try other words or the code.")
        else:
            self._clear()

    @rx.event
    async def add_diagnosis(self, code: str):
        self.message_at = "dx"
        code, note_id = str(code)[:12], self.note_id
        done = await self._change("note.edit", lambda s, a: charting.add_diagnosis(s, actor=a, note_id=note_id, code=code),
                                  done=f"{code} added.")
        if done is not FAILED:
            self.dx_query, self.dx_hits = "", []

    @rx.event
    async def remove_diagnosis(self, code: str):
        self.message_at = "dx"
        code, note_id = str(code)[:12], self.note_id
        await self._change("note.edit", lambda s, a: charting.remove_diagnosis(s, actor=a, note_id=note_id, code=code),
                           done=f"{code} removed.")

    # -- procedures ----------------------------------------------------------------------------
    @rx.event
    def set_new_procedure(self, text: str):
        self.new_procedure = str(text)[:8]

    @rx.event
    def set_new_units(self, text: str):
        self.new_units = str(text)[:3]

    @rx.event
    def set_new_minutes(self, text: str):
        self.new_minutes = str(text)[:3]

    @rx.event
    def set_new_modifiers(self, text: str):
        self.new_modifiers = str(text)[:20]

    @rx.event
    async def add_procedure(self):
        self.message_at = "px"
        code, units, minutes, modifiers = self.new_procedure, self.new_units, self.new_minutes, self.new_modifiers
        note_id = self.note_id
        done = await self._change(
            "note.edit",
            lambda s, a: charting.add_procedure(s, actor=a, note_id=note_id, code=code, units=units, minutes=minutes,
                                                modifiers=modifiers),
            done=lambda row: f"{row.code} added, {row.units} unit(s).",
        )
        if done is not FAILED:  # a refused line stays in the boxes
            self.new_procedure, self.new_units, self.new_minutes, self.new_modifiers = "", "1", "", ""

    @rx.event
    async def remove_procedure(self, code: str):
        self.message_at = "px"
        code, note_id = str(code)[:8], self.note_id
        await self._change("note.edit", lambda s, a: charting.remove_procedure(s, actor=a, note_id=note_id, code=code),
                           done=f"{code} removed.")

    @rx.event
    async def save_minutes(self, note_id: int, code: str, minutes: str):
        """Autosave a line's minutes (debounced in the page): the units warning follows."""
        self.message_at = "px"
        try:
            wanted = as_id(note_id)
        except ClinicError as exc:
            return self._fail(exc)
        code, minutes = str(code)[:8], str(minutes)[:3]
        await self._change("note.edit", lambda s, a: charting.set_minutes(s, actor=a, note_id=wanted, code=code,
                                                                          minutes=minutes),
                           done=f"Minutes of {code} saved.")
        return None

    @rx.event
    async def apply_suggested_units(self):
        """Set timed codes' units to what their minutes support."""
        self.message_at = "px"
        note_id = self.note_id
        await self._change("note.edit", lambda s, a: charting.apply_suggested_units(s, actor=a, note_id=note_id),
                           done="Units now follow the minutes.")
