"""The staff's task inbox: to-dos the clinic's own data makes (rules) or staff make by hand."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow

TASK_STATUSES = ("open", "snoozed", "done")
_status_list = ", ".join(f"'{s}'" for s in TASK_STATUSES)


class Task(SQLModel, table=True):
    """One to-do about a patient, for a role's queue and/or a person.

    A rule's task is keyed by what it is about (``key``, e.g. ``authorisation:case:12``);
    while it is not done, ``open_key`` holds the same key and is unique, so the database
    itself refuses a second open task of one rule for one subject. Done tasks keep ``key``
    and clear ``open_key`` (NULLs never clash), so a condition that starts again later makes
    a new task. Hand-made tasks have no key."""

    __table_args__ = (
        CheckConstraint(f"status IN ({_status_list})", name="ck_task_status"),
        CheckConstraint("(status = 'done') = (closed_at IS NOT NULL)", name="ck_task_closed"),
        CheckConstraint("status <> 'snoozed' OR snoozed_until IS NOT NULL", name="ck_task_snoozed"),
        CheckConstraint("status <> 'done' OR open_key IS NULL", name="ck_task_done_key"),
        CheckConstraint("queue_role IS NOT NULL OR assignee_user_id IS NOT NULL", name="ck_task_owner"),
        Index("ix_task_status_due", "status", "due_on"),
        Index("ix_task_assignee_status", "assignee_user_id", "status"),
        Index("ix_task_queue_status", "queue_role", "status"),
        Index("ix_task_subject", "subject"),
        Index("ix_task_key", "key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    key: str = Field(default="", max_length=80)
    subject: str = Field(default="", max_length=60)  # the rule and its subject ("claim_denied:12"); "" by hand
    open_key: str | None = Field(default=None, max_length=80, unique=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    note_id: int | None = Field(default=None, foreign_key="note.id")
    claim_id: int | None = Field(default=None, foreign_key="claim.id")
    case_id: int | None = Field(default=None, foreign_key="care_case.id")
    title: str = Field(max_length=200)
    queue_role: str | None = Field(default=None, max_length=16)
    assignee_user_id: int | None = Field(default=None, foreign_key="user.id")
    due_on: dt.date
    status: str = Field(default="open", max_length=8)
    snoozed_until: dt.date | None = None
    note: str = Field(default="", max_length=500)
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")  # none: a rule made it
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    closed_by_user_id: int | None = Field(default=None, foreign_key="user.id")  # none when done: the rule closed it


PROGRESS_VISITS_RANGE = (1, 60)
PROGRESS_DAYS_RANGE = (1, 365)


class ProgressNoteLimit(SQLModel, table=True):
    """A payer's own progress-note rule: a progress note is due after ``visits`` visits or
    ``days`` days since the evaluation or last progress note, whichever first (a payer without
    one: 10 visits / 30 days; services/tasks/rules.py)."""

    __tablename__ = "progress_note_limit"
    __table_args__ = (
        CheckConstraint(f"visits BETWEEN {PROGRESS_VISITS_RANGE[0]} AND {PROGRESS_VISITS_RANGE[1]}", name="ck_progress_limit_visits"),
        CheckConstraint(f"days BETWEEN {PROGRESS_DAYS_RANGE[0]} AND {PROGRESS_DAYS_RANGE[1]}", name="ck_progress_limit_days"),
    )

    id: int | None = Field(default=None, primary_key=True)
    payer_id: int = Field(foreign_key="payer.id", unique=True)
    visits: int
    days: int
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
