"""The "Merge duplicate records" panel on the board: find both, compare, confirm."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.services.frontdesk import board, merge
from clinic_app.services.frontdesk.patients import describe
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.state.auth import as_id, current_actor
from clinic_app.state.calendar import CalendarState, PatientHit
from clinic_app.state.common import in_db
from clinic_app.state.screen import Section

TABLE_WORDS = {
    "appointment": "Appointments", "appointment_series": "Recurring series", "care_case": "Episodes of care",
    "waitlist_entry": "Waitlist entries", "note": "Visit notes", "measure_result": "Outcome scores",
    "plan_goal": "Plan goals", "home_exercise": "Home exercises", "patient_problem": "Problems",
    "patient_allergy": "Allergies", "patient_medication": "Medications", "coverage": "Insurance coverages",
    "claim": "Claims", "ledger_entry": "Ledger entries", "patient_consent": "Consents", "attachment": "Attachments",
    "record_change": "Edits kept in history",
}


@dataclasses.dataclass
class CompareRow:
    """One line of the side-by-side summary."""

    what: str
    keep: str
    duplicate: str


class MergeSection(Section, CalendarState):
    """Two records chosen by search; nothing changes until the confirm button."""

    which: str = "keep"  # the search box fills "keep" or "duplicate"
    query: str = ""
    hits: list[PatientHit] = []
    keep_id: int = 0
    keep_label: str = ""
    duplicate_id: int = 0
    duplicate_label: str = ""
    rows: list[CompareRow] = []
    clashes: list[str] = []
    reason: str = ""

    @rx.event
    async def start(self):
        try:
            await current_actor(self, "patient.merge")
        except ClinicError as exc:
            return self._say(str(exc), error=True)
        calendar = await self.get_state(CalendarState)
        calendar.show_panel("merge")
        self.which, self.query, self.hits, self.rows, self.clashes = "keep", "", [], [], []
        self.keep_id, self.keep_label, self.duplicate_id, self.duplicate_label, self.reason = 0, "", 0, "", ""
        self.message = ""
        return None

    @rx.event
    async def close(self):
        (await self.get_state(CalendarState))._close_panel()

    @rx.event
    def search_for(self, which: str):
        self.which = "duplicate" if which == "duplicate" else "keep"
        self.query, self.hits = "", []

    @rx.event
    async def search(self, text: str):
        self.query = str(text)[:80]
        try:
            actor = await current_actor(self, "patient.search")
            query = self.query
            found = await in_db(lambda s: board.search_patients(s, actor=actor, text=query))
        except ClinicError as exc:
            return self._say(str(exc), error=True)
        self.hits = [PatientHit(id=p.id, label=describe(p)) for p in found]
        return None

    @rx.event
    async def choose(self, patient_id: int):
        try:
            pid = as_id(patient_id)
            hit = next((h for h in self.hits if h.id == pid), None)
            if hit is None:
                raise InvalidInput("Choose a patient from the search results.")
        except ClinicError as exc:
            return self._say(str(exc), error=True)
        if self.which == "keep":
            self.keep_id, self.keep_label, self.which = pid, hit.label, "duplicate"
        else:
            self.duplicate_id, self.duplicate_label = pid, hit.label
        self.query, self.hits, self.message = "", [], ""
        if self.keep_id and self.duplicate_id:
            return await self.compare()
        return None

    async def compare(self):
        self.rows, self.clashes = [], []
        try:
            actor = await current_actor(self, "patient.merge")
            keep, duplicate = self.keep_id, self.duplicate_id
            view = await in_db(lambda s: merge.preview(s, actor=actor, survivor_id=keep, duplicate_id=duplicate))
        except ClinicError as exc:
            return self._say(str(exc), error=True)
        k, d = view["survivor"], view["duplicate"]
        rows = [
            CompareRow("Record", k["label"], d["label"]),
            CompareRow("Phone", k["phone"] or "none", d["phone"] or "none"),
            CompareRow("Email", k["email"] or "none", d["email"] or "none"),
            CompareRow("Address", k["address"] or "none", d["address"] or "none"),
            CompareRow("Registered", k["created"], d["created"]),
        ]
        rows += [
            CompareRow(TABLE_WORDS.get(table, table), str(n["survivor"]), str(n["duplicate"]))
            for table, n in sorted(view["counts"].items(), key=lambda item: TABLE_WORDS.get(item[0], item[0]))
        ]
        self.rows, self.clashes = rows, view["clashes"]
        return None

    @rx.event
    def set_reason(self, value: str):
        self.reason = str(value)[:201]

    @rx.event
    async def confirm(self):
        try:
            actor = await current_actor(self, "patient.merge")
            if not (self.keep_id and self.duplicate_id):
                raise InvalidInput("Choose the record to keep and the duplicate first.")
            keep, duplicate, reason = self.keep_id, self.duplicate_id, self.reason
            result = await in_db(lambda s: merge.merge_patients(
                s, actor=actor, survivor_id=keep, duplicate_id=duplicate, reason=reason,
            ))
        except ClinicError as exc:
            return self._say(str(exc), error=True)
        moved = sum(result.moved.values())
        kept = sum(result.kept.values())
        text = f"Merged {self.duplicate_label} into {self.keep_label}: {moved} records moved."
        if kept:
            text += f" {kept} kept on the merged record because the kept record already had the same."
        self.rows, self.clashes, self.duplicate_id, self.duplicate_label, self.reason = [], [], 0, "", ""
        self._say(text, error=False)
        calendar = await self.get_state(CalendarState)
        return await calendar._reload()

    def _say(self, text: str, *, error: bool):
        if error:
            self._fail(text)
        else:
            self._ok(text)
