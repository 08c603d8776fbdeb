"""Outcome measures: the ones a clinic defines, and scores recorded at visits.

NPRS, PSFS and LEFS are built into the code (services/charting/measures.py); a clinic adds its own
(e.g. licensed questionnaires it holds the licence for) as rows of ``outcome_measure``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class OutcomeMeasure(SQLModel, table=True):
    """A clinic-defined measure: its items, how they are scored, and its MCID."""

    __tablename__ = "outcome_measure"
    __table_args__ = (
        CheckConstraint("scoring IN ('sum', 'mean', 'percent')", name="ck_measure_scoring"),
        CheckConstraint("item_min < item_max", name="ck_measure_item_range"),
        CheckConstraint("mcid > 0", name="ck_measure_mcid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=120)
    # One item label per line, in order.
    items: str = Field(sa_column=Column(Text, nullable=False))
    item_min: int = 0
    item_max: int = 10
    scoring: str = Field(default="sum", max_length=8)  # sum, mean, or percent of the highest possible
    mcid: float
    higher_is_better: bool = True
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class MeasureResult(SQLModel, table=True):
    """One measure scored at one visit; part of the visit's note (locked when it is signed)."""

    __tablename__ = "measure_result"
    __table_args__ = (UniqueConstraint("note_id", "measure_code"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="note.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    measure_code: str = Field(max_length=16)
    # The item scores as a JSON list of integers, and the labels they were given (PSFS
    # activities are named by the patient) as a JSON list of strings.
    item_values: str = Field(sa_column=Column(Text, nullable=False))
    item_labels: str = Field(sa_column=Column(Text, nullable=False))
    score: float
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    recorded_by_user_id: int = Field(foreign_key="user.id")


class HomeMeasure(SQLModel, table=True):
    """A measure a clinician asks the patient to fill in at home (in the portal), and the
    patient's answer once given: no note is needed; the chart's trend shows it as reported by
    the patient."""

    __tablename__ = "home_measure"
    __table_args__ = (
        CheckConstraint("(answered_at IS NULL) = (score IS NULL)", name="ck_home_measure_answer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    measure_code: str = Field(max_length=16)
    assigned_by_user_id: int = Field(foreign_key="user.id")
    assigned_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    answered_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # As MeasureResult: JSON lists of the item scores and their labels; empty until answered.
    item_values: str = Field(default="", sa_column=Column(Text, nullable=False))
    item_labels: str = Field(default="", sa_column=Column(Text, nullable=False))
    score: float | None = None
    withdrawn: bool = False
