"""Record: the patient's problem list (offline ICD-10-CM search), allergies, medications
(with their safety alerts) and attachments (uploaded, viewed in the page)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from typing import ClassVar

import reflex as rx
from sqlmodel import Session

from clinic_app.services.charting import history
from clinic_app.services.charting.codes import describe_icd10, search_icd10
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import intake
from clinic_app.state.auth import as_id
from clinic_app.state.chart import ChartSection, ChartState, chart_section
from clinic_app.state.common import in_db
from clinic_app.state.screen import FAILED

NO_ALLERGIES = "No allergies recorded."


@dataclasses.dataclass
class RecordRow:
    """A problem, allergy, medication or attachment line with the button that acts on it."""

    id: int
    text: str
    action_label: str


@dataclasses.dataclass
class IntakeLine:
    """A line of the patient's intake: a form's heading, an answer, or a signed consent (``id``: its PDF)."""

    kind: str  # "form" / "answer" / "consent"
    id: int
    text: str
    action_label: str


@dataclasses.dataclass
class ProblemHit:
    code: str
    description: str
    add_label: str


@chart_section
class RecordSection(ChartSection, ChartState):
    """The patient's record, kept across visits."""

    _order: ClassVar[int] = 6

    problems: list[RecordRow] = []
    allergies: list[RecordRow] = []
    medications: list[RecordRow] = []
    attachments: list[RecordRow] = []
    intake_status: str = ""  # this visit's: "Intake complete" / "Intake pending: <form>" / ""
    intake_lines: list[IntakeLine] = []
    icd_query: str = ""
    icd_hits: list[ProblemHit] = []
    new_substance: str = ""
    new_reaction: str = ""
    new_med_name: str = ""
    new_med_class: str = "other"
    new_med_dose: str = ""
    drug_classes: list[str] = list(history.DRUG_CLASSES)
    # A safety alert waiting for the clinician's "Record anyway" ("medication" / "allergy").
    pending_confirm: str = ""
    pending_alert: str = ""
    # The attachment shown in the page (an image inline, a PDF in an embedded viewer).
    viewer_id: int = 0
    viewer_name: str = ""
    viewer_src: str = ""
    viewer_is_pdf: bool = False

    def _load(self, session: Session, actor: Actor) -> None:
        if not self.own_note:  # a supervisee's note read for co-signature
            self.problems, self.allergies, self.medications, self.attachments = [], [], [], []
            self.intake_status, self.intake_lines = "", []
            self.allergy_words = ""
            return
        patient_id = self._patient_id
        record = history.summary(session, actor=actor, patient_id=patient_id)
        self.problems = [
            RecordRow(id=p.id, text=f"{p.code} {describe_icd10(p.code)}", action_label=f"Resolve {p.code}")
            for p in record["problems"]
        ]
        self.allergies = [
            RecordRow(id=a.id, text=a.substance + (f" ({a.reaction})" if a.reaction else ""), action_label="")
            for a in record["allergies"]
        ]
        self.medications = [
            RecordRow(id=m.id, text=f"{m.name} {m.dose} [{m.drug_class}]".replace("  ", " "), action_label=f"Stop {m.name}")
            for m in record["medications"]
        ]
        self.attachments = [
            RecordRow(id=a.id, text=f"{a.filename} ({a.size_bytes / 1024:,.0f} KB, {self._when(a.uploaded_at)})",
                      action_label=f"View {a.filename}")
            for a in history.attachments(session, actor=actor, patient_id=patient_id)
        ]
        self._load_intake(session, actor)
        # Shown at the top of every note (the screen's header).
        self.allergy_words = (
            "Allergies: " + "; ".join(a.text for a in self.allergies) if self.allergies else NO_ALLERGIES
        )

    def _load_intake(self, session: Session, actor: Actor) -> None:
        self.intake_status = intake.status_words(session, appointment_id=self.appointment_id) if self.appointment_id else ""
        lines = []
        for form in intake.patient_answers(session, actor=actor, patient_id=self._patient_id):
            lines.append(IntakeLine(kind="form", id=form.response_id, action_label="",
                                    text=f"{form.title} (version {form.version}): {form.status}, {self._when(form.when)}"))
            lines += [IntakeLine(kind="answer", id=form.response_id, text=f"{label}: {answer}", action_label="")
                      for label, answer in form.answers]
            lines += [IntakeLine(kind="consent", id=cid, text=f"{title}: signed {self._when(at)}",
                                 action_label=f"Download {title} (signed PDF)")
                      for cid, title, at in form.consents]
        self.intake_lines = lines

    async def _record(self, change, done: str) -> bool:
        """A change to the record; a safety alert waits for "Record anyway" (nothing saved yet)."""
        try:
            actor = await self._actor("note.edit")

            def work(session: Session) -> None:
                change(session, actor)
                self._load(session, actor)

            await in_db(work)
        except history.NeedsConfirmation as exc:
            self.pending_alert = str(exc)
            self._fail(exc)
            return False
        except ClinicError as exc:
            self.pending_confirm, self.pending_alert = "", ""
            self._fail(exc)
            return False
        self.pending_confirm, self.pending_alert = "", ""
        self._ok(done)
        return True

    # -- problem list ------------------------------------------------------------------------------
    @rx.event
    async def search_icd(self, text: str):
        """Offline ICD-10-CM search by words or code (billable codes only)."""
        self.icd_query = str(text)[:60]
        hits = await asyncio.to_thread(search_icd10, self.icd_query, limit=8)
        self.icd_hits = [ProblemHit(code=c, description=d, add_label=f"Add {c} {d} to problems") for c, d in hits]

    @rx.event
    async def add_problem(self, code: str):
        self.message_at = "problems"
        code, patient_id = str(code)[:12], self._patient_id
        if await self._record(lambda s, a: history.add_problem(s, actor=a, patient_id=patient_id, code=code),
                              f"{code} added to the problem list."):
            self.icd_query, self.icd_hits = "", []

    @rx.event
    async def resolve_problem(self, problem_id: int):
        self.message_at = "problems"
        await self._record(lambda s, a: history.resolve_problem(s, actor=a, problem_id=as_id(problem_id)), "Problem resolved.")

    # -- allergies and medications -------------------------------------------------------------------
    @rx.event
    def set_new_substance(self, text: str):
        self.new_substance = str(text)[:80]

    @rx.event
    def set_new_reaction(self, text: str):
        self.new_reaction = str(text)[:120]

    @rx.event
    def set_new_med_name(self, text: str):
        self.new_med_name = str(text)[:80]

    @rx.event
    def set_new_med_class(self, text: str):
        self.new_med_class = str(text)[:40]

    @rx.event
    def set_new_med_dose(self, text: str):
        self.new_med_dose = str(text)[:80]

    @rx.event
    async def add_allergy(self, confirm: bool = False):
        self.message_at = "allergies"
        substance, reaction, patient_id = self.new_substance, self.new_reaction, self._patient_id
        self.pending_confirm = "allergy"
        if await self._record(
            lambda s, a: history.add_allergy(s, actor=a, patient_id=patient_id, substance=substance, reaction=reaction,
                                             confirm=bool(confirm)),
            f"Allergy to {substance.strip()} recorded.",
        ):
            self.new_substance, self.new_reaction = "", ""

    @rx.event
    async def add_medication(self, confirm: bool = False):
        self.message_at = "medications"
        name, drug_class, dose, patient_id = self.new_med_name, self.new_med_class, self.new_med_dose, self._patient_id
        self.pending_confirm = "medication"
        if await self._record(
            lambda s, a: history.add_medication(s, actor=a, patient_id=patient_id, name=name, drug_class=drug_class,
                                                dose=dose, confirm=bool(confirm)),
            f"{name.strip()} added to the medications.",
        ):
            self.new_med_name, self.new_med_dose, self.new_med_class = "", "", "other"

    @rx.event
    async def record_anyway(self):
        """The clinician has read the alert and records the entry."""
        if self.pending_confirm == "medication":
            return await self.add_medication(confirm=True)
        if self.pending_confirm == "allergy":
            return await self.add_allergy(confirm=True)
        return None

    @rx.event
    def cancel_pending(self):
        self.pending_confirm, self.pending_alert = "", ""
        self._clear()

    @rx.event
    async def stop_medication(self, medication_id: int):
        self.message_at = "medications"
        await self._record(lambda s, a: history.stop_medication(s, actor=a, medication_id=as_id(medication_id)),
                           "Medication stopped.")

    # -- attachments ------------------------------------------------------------------------------
    @rx.event
    async def upload_attachment(self, files: list[rx.UploadFile]):
        """Attach the chosen files to the patient's chart (each checked on its own)."""
        self.message_at = "attachments"
        done, refused = [], []
        patient_id, note_id = self._patient_id, self.note_id or None
        for file in files:
            data = await file.read()
            name = getattr(file, "name", None) or getattr(file, "filename", None) or "file"
            ok = await self._record(
                lambda s, a, name=name, data=data: history.add_attachment(
                    s, actor=a, patient_id=patient_id, filename=name, data=data, note_id=note_id),
                f"{name} attached.",
            )
            (done if ok else refused).append(self.message)
        if refused:
            self._fail(" ".join(refused))
        elif done:
            self._ok(" ".join(done))
        return rx.clear_selected_files("attachment-upload")

    @rx.event
    async def open_attachment(self, attachment_id: int):
        """Download an attachment (its checksum is checked first)."""
        self.message_at = "attachments"
        row = await self._act("chart.view", lambda s, a: history.open_attachment(s, actor=a, attachment_id=as_id(attachment_id)))
        if row is FAILED:
            return None
        return rx.download(data=row.data, filename=row.filename)

    @rx.event
    async def view_attachment(self, attachment_id: int):
        """Show an attachment in the page: an image inline, a PDF in an embedded viewer (checksum checked first)."""
        self.message_at = "attachments"
        row = await self._act("chart.view", lambda s, a: history.open_attachment(s, actor=a, attachment_id=as_id(attachment_id)))
        if row is FAILED:
            return
        self.viewer_id, self.viewer_name, self.viewer_is_pdf = row.id, row.filename, row.content_type == "application/pdf"
        self.viewer_src = f"data:{row.content_type};base64,{base64.b64encode(row.data).decode()}"

    @rx.event
    async def open_consent(self, consent_id: int):
        """Download a signed consent's PDF (its SHA-256 is checked first; the view is audited)."""
        self.message_at = "intake"
        row = await self._act("chart.view", lambda s, a: intake.open_consent(s, actor=a, consent_id=as_id(consent_id)))
        if row is FAILED:
            return None
        return rx.download(data=row.pdf, filename=f"consent-{row.link_id}-{row.signed_at:%Y%m%d}.pdf")

    @rx.event
    def close_viewer(self):
        self.viewer_id, self.viewer_name, self.viewer_src = 0, "", ""
