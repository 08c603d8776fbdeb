"""A patient's standing record on the chart: problem list, allergies, medications.

Rows are never deleted (records are kept for years): a problem is resolved, an allergy
or a medication is marked inactive, with who and when.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow
from clinic_app.models.interop import touched_column


class PatientProblem(SQLModel, table=True):
    """An ICD-10-CM problem on the patient's problem list."""

    __tablename__ = "patient_problem"
    __table_args__ = (CheckConstraint("status IN ('active', 'resolved')", name="ck_problem_status"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    code: str = Field(max_length=8)
    status: str = Field(default="active", max_length=10)
    recorded_by_user_id: int = Field(foreign_key="user.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class PatientAllergy(SQLModel, table=True):
    """A recorded allergy or intolerance."""

    __tablename__ = "patient_allergy"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    substance: str = Field(max_length=80)
    reaction: str = Field(default="", max_length=120)
    active: bool = True
    recorded_by_user_id: int = Field(foreign_key="user.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


class PatientMedication(SQLModel, table=True):
    """A medication the patient takes, with its therapeutic class for duplicate checks."""

    __tablename__ = "patient_medication"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    name: str = Field(max_length=80)
    drug_class: str = Field(default="other", max_length=40)
    dose: str = Field(default="", max_length=80)
    active: bool = True
    recorded_by_user_id: int = Field(foreign_key="user.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


class CarePlan(SQLModel, table=True):
    """Frequency and duration of care: each save is a new row (the latest is the plan), so the
    record shows how the plan changed."""

    __tablename__ = "care_plan"
    __table_args__ = (
        CheckConstraint("visits_per_week BETWEEN 1 AND 7", name="ck_care_plan_frequency"),
        CheckConstraint("duration_weeks BETWEEN 1 AND 52", name="ck_care_plan_duration"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    visits_per_week: int
    duration_weeks: int
    starts_on: dt.date
    recorded_by_user_id: int = Field(foreign_key="user.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class PlanGoal(SQLModel, table=True):
    """A treatment-plan goal: short or long term, a target date, and where it stands."""

    __tablename__ = "plan_goal"
    __table_args__ = (
        CheckConstraint("term IN ('short', 'long')", name="ck_goal_term"),
        CheckConstraint("status IN ('active', 'met', 'partly met', 'not met', 'discontinued')", name="ck_goal_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    term: str = Field(max_length=5)
    text: str = Field(max_length=200)
    target_date: dt.date
    status: str = Field(default="active", max_length=12)
    recorded_by_user_id: int = Field(foreign_key="user.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class HomeExercise(SQLModel, table=True):
    """An exercise of the patient's home programme (printed for them as a PDF)."""

    __tablename__ = "home_exercise"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    name: str = Field(max_length=80)
    dosage: str = Field(default="", max_length=80)
    instructions: str = Field(default="", max_length=400)
    active: bool = True
    recorded_by_user_id: int = Field(foreign_key="user.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Attachment(SQLModel, table=True):
    """An image or PDF on the patient's chart, with its SHA-256 to check it is unchanged."""

    __table_args__ = (
        UniqueConstraint("patient_id", "sha256"),
        CheckConstraint("size_bytes BETWEEN 1 AND 5242880", name="ck_attachment_size"),
        CheckConstraint(
            "content_type IN ('image/png', 'image/jpeg', 'application/pdf')", name="ck_attachment_type"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    note_id: int | None = Field(default=None, foreign_key="note.id")
    filename: str = Field(max_length=120)
    content_type: str = Field(max_length=40)
    size_bytes: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by_user_id: int = Field(foreign_key="user.id")
    uploaded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
