"""Intake before the first visit: the admin's forms (FHIR Questionnaires, versioned), the
patient's answers (QuestionnaireResponses), signed consents (PDF + SHA-256) and the links
that open them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class IntakeForm(SQLModel, table=True):
    """One version of an intake form. Versions are never changed or deleted (database rule):
    an edit, a retirement or a return adds the next version."""

    __tablename__ = "intake_form"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("version >= 1", name="ck_intake_form_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=24, index=True)
    version: int
    title: str = Field(max_length=120)
    visit_kinds: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of appointment type names
    fields: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of field specs, in order
    questionnaire: str = Field(sa_column=Column(Text, nullable=False))  # FHIR R4 Questionnaire (JSON)
    retired: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    created_by_user_id: int = Field(foreign_key="user.id")


class IntakeResponse(SQLModel, table=True):
    """A patient's answers to one form version for one visit. Completed answers are final
    (database rule)."""

    __tablename__ = "intake_response"
    __table_args__ = (
        UniqueConstraint("appointment_id", "form_code"),
        CheckConstraint("status IN ('in-progress', 'completed')", name="ck_intake_response_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    form_id: int = Field(foreign_key="intake_form.id")
    form_code: str = Field(max_length=24)
    status: str = Field(max_length=12, default="in-progress")
    response: str = Field(sa_column=Column(Text, nullable=False))  # FHIR R4 QuestionnaireResponse (JSON)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    completed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class IntakeConsent(SQLModel, table=True):
    """A consent the patient signed: the PDF (text, signature, time) and its SHA-256. Never
    changed or deleted (database rule)."""

    __tablename__ = "intake_consent"
    __table_args__ = (UniqueConstraint("response_id", "link_id"),)

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="intake_response.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    link_id: str = Field(max_length=40)
    title: str = Field(max_length=120)
    text: str = Field(sa_column=Column(Text, nullable=False))
    signature_png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signed_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)


class IntakeLink(SQLModel, table=True):
    """A link the patient opens to fill a visit's intake: only the SHA-256 of its token is
    kept; it ends at the end of the visit's day, or once every form is complete."""

    __tablename__ = "intake_link"

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    used_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    failed_checks: int = 0
