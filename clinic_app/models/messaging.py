"""Messages about a patient: between colleagues (staff threads) and between the patient and the
clinic (patient threads, answered by the desk or, where the clinic allows it, the clinician)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class MessageThread(SQLModel, table=True):
    """A conversation about one patient."""

    __tablename__ = "message_thread"
    __table_args__ = (
        CheckConstraint("kind IN ('staff', 'patient')", name="ck_message_thread_kind"),
        # A patient thread goes to the desk's queue or to one clinician; a staff thread to its members.
        CheckConstraint("kind = 'staff' OR to_queue IN ('desk', 'clinician')", name="ck_message_thread_queue"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=7)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    subject: str = Field(max_length=120)
    to_queue: str = Field(default="", max_length=9)  # patient threads: desk or clinician
    provider_id: int | None = Field(default=None, foreign_key="provider.id")  # the clinician asked
    started_by: int | None = Field(default=None, foreign_key="user.id")  # None: the patient
    started_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    last_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))


class MessageMember(SQLModel, table=True):
    """A colleague in a staff thread (or a staff member who has answered a patient thread), and
    how far they have read it."""

    __tablename__ = "message_member"
    __table_args__ = (UniqueConstraint("thread_id", "user_id", name="uq_message_member"),)

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="message_thread.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    read_upto: int = 0  # the id of the last message they have seen (0: none)
    read_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class Message(SQLModel, table=True):
    """One message: written by a staff member or by the patient, never edited or removed."""

    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint("(author_user_id IS NULL) = by_patient", name="ck_message_author"),
        CheckConstraint("length(body) > 0", name="ck_message_body"),
        Index("ix_message_thread_id_id", "thread_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="message_thread.id")
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    by_patient: bool = False
    body: str = Field(max_length=4000)
    sent_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # The patient's side: when the patient saw it (staff messages in a patient thread).
    patient_read_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
