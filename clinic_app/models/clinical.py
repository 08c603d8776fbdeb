"""Visit notes with their diagnoses and procedures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class Note(SQLModel, table=True):
    """The SOAP note of one visit. Once signed the database refuses any change."""

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", unique=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    subjective: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    objective: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    assessment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    plan: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    signed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True, index=True))
    signed_by_user_id: int | None = Field(default=None, foreign_key="user.id")


class NoteDiagnosis(SQLModel, table=True):
    """An ICD-10-CM code on a note, in the order the claim will list it."""

    __tablename__ = "note_diagnosis"
    __table_args__ = (UniqueConstraint("note_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    code: str = Field(max_length=8)


class NoteProcedure(SQLModel, table=True):
    """A procedure code with units on a note; becomes a charge when the note is signed."""

    __tablename__ = "note_procedure"
    __table_args__ = (
        UniqueConstraint("note_id", "code"),
        CheckConstraint("units BETWEEN 1 AND 24", name="ck_procedure_units"),
        CheckConstraint("minutes IS NULL OR minutes BETWEEN 1 AND 480", name="ck_procedure_minutes"),
    )

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    code: str = Field(max_length=5)
    units: int = 1
    # Minutes of one-on-one time for a timed code (the CMS 8-minute rule needs them).
    minutes: int | None = None
    # Up to four two-character modifiers the clinician entered, e.g. "GP,59" (CQ/CO are added at capture).
    modifiers: str = Field(default="", max_length=11)


class ClinicianSupervision(SQLModel, table=True):
    """An assistant's or student's provider record and the clinician who supervises them.

    Notes of a supervised provider are signed by them and then co-signed by the
    supervisor; the visit becomes ready to bill at the co-signature.
    """

    __tablename__ = "clinician_supervision"
    __table_args__ = (
        CheckConstraint("provider_id <> supervisor_provider_id", name="ck_supervision_not_self"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", unique=True)
    supervisor_provider_id: int = Field(foreign_key="provider.id", index=True)


class NoteCosignature(SQLModel, table=True):
    """The supervising clinician's co-signature of a signed note: one per note, final."""

    __tablename__ = "note_cosignature"

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", unique=True)
    user_id: int = Field(foreign_key="user.id")
    signed_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class NoteAddendum(SQLModel, table=True):
    """A correction or addition to a signed note, dated, with its author. Never changed."""

    __tablename__ = "note_addendum"

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    author_user_id: int = Field(foreign_key="user.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class NoteForm(SQLModel, table=True):
    """The template a note is written with (its structured fields and section names)."""

    __tablename__ = "note_form"

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", unique=True)
    template_code: str = Field(max_length=24)
    # The template version the note was written with: None for the version shipped in code,
    # else note_template.version. Editing a template adds a version, so this never changes meaning.
    template_version: int | None = None


class NoteTemplate(SQLModel, table=True):
    """One version of an admin-edited note template. Versions are never changed or deleted
    (database rule): an edit, a retirement or a return adds the next version."""

    __tablename__ = "note_template"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("version >= 1", name="ck_note_template_version"),
        CheckConstraint("form IN ('SOAP', 'DAP')", name="ck_note_template_form"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=24, index=True)
    version: int
    name: str = Field(max_length=120)
    discipline: str = Field(max_length=40, default="")  # "" = any discipline
    visit_kinds: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of appointment type names
    form: str = Field(max_length=4)
    section_labels: str = Field(sa_column=Column(Text, nullable=False))  # JSON {section: label}
    fields: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of field specs, in order
    retired: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    created_by_user_id: int = Field(foreign_key="user.id")


class NoteField(SQLModel, table=True):
    """One structured field of a note's template and its value (a checklist as a JSON list)."""

    __tablename__ = "note_field"
    __table_args__ = (UniqueConstraint("note_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    key: str = Field(max_length=40)
    value: str = Field(sa_column=Column(Text, nullable=False))


class BodyMark(SQLModel, table=True):
    """A marked region of the body chart on a note: symptom and intensity 0-10."""

    __tablename__ = "body_mark"
    __table_args__ = (
        UniqueConstraint("note_id", "region"),
        CheckConstraint("intensity BETWEEN 0 AND 10", name="ck_body_mark_intensity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    region: str = Field(max_length=32)
    symptom: str = Field(max_length=16)
    intensity: int
