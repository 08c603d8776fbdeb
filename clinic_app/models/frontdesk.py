"""Front-desk tables: episodes of care, the waitlist, recurring series, reminders."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class CareCase(SQLModel, table=True):
    """An episode of care: visits for one problem, often under a prior authorisation
    of N visits between two dates (visits past either are at risk of denial)."""

    __tablename__ = "care_case"
    __table_args__ = (
        CheckConstraint("authorized_visits IS NULL OR authorized_visits >= 0", name="ck_care_case_visits"),
        CheckConstraint(
            "auth_start IS NULL OR auth_end IS NULL OR auth_end >= auth_start", name="ck_care_case_auth_span"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    title: str = Field(max_length=120)
    referral_source: str = Field(default="", max_length=120)
    diagnosis_code: str = Field(default="", max_length=10)
    payer_name: str = Field(default="", max_length=120)
    authorized_visits: int | None = None
    auth_start: dt.date | None = None
    auth_end: dt.date | None = None
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class WaitlistEntry(SQLModel, table=True):
    """A patient who wants an earlier or any slot: when, with whom, for what."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        CheckConstraint("latest_day >= earliest_day", name="ck_waitlist_days"),
        CheckConstraint(
            "preferred_start_minute >= 0 AND preferred_end_minute <= 1440 "
            "AND preferred_start_minute < preferred_end_minute",
            name="ck_waitlist_minutes",
        ),
        CheckConstraint("status IN ('waiting', 'booked', 'removed')", name="ck_waitlist_status"),
        Index("ix_waitlist_location_status", "location_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    location_id: int = Field(foreign_key="location.id")
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    earliest_day: dt.date
    latest_day: dt.date
    preferred_start_minute: int = 0
    preferred_end_minute: int = 1440
    note: str = Field(default="", max_length=200)
    status: str = Field(default="waiting", max_length=10)
    booked_appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class AppointmentSeries(SQLModel, table=True):
    """Appointments booked together as a recurring series (e.g. twice a week for six weeks)."""

    __tablename__ = "appointment_series"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    description: str = Field(max_length=200)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class SeriesMember(SQLModel, table=True):
    """An appointment's place in its series (a table of its own, so that the appointment
    table, guarded by triggers, keeps its shape)."""

    __tablename__ = "series_member"
    __table_args__ = (UniqueConstraint("appointment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="appointment_series.id", index=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    occurrence: int


class CaseVisit(SQLModel, table=True):
    """An appointment counted against an episode of care (at most one case per visit)."""

    __tablename__ = "case_visit"
    __table_args__ = (UniqueConstraint("appointment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="care_case.id", index=True)
    appointment_id: int = Field(foreign_key="appointment.id")


class Reminder(SQLModel, table=True):
    """The outbox: one reminder per appointment, channel and kind (the send-once guarantee),
    claimed by a conditional update before it is sent; every attempt is recorded.

    ``kind``: "ahead" (the lead time before) or "day_of" (hours before, on the visit's day,
    when the location turns it on)."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("appointment_id", "channel", "kind", name="uq_reminder_visit_channel_kind"),
        CheckConstraint("channel IN ('email', 'sms')", name="ck_reminder_channel"),
        CheckConstraint("kind IN ('ahead', 'day_of')", name="ck_reminder_kind"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'skipped')", name="ck_reminder_status"),
        Index("ix_reminder_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    channel: str = Field(max_length=8)
    kind: str = Field(default="ahead", max_length=8, sa_column_kwargs={"server_default": "ahead"})
    to_address: str = Field(max_length=120)
    due_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    last_error: str = Field(default="", max_length=300)
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ReminderAttempt(SQLModel, table=True):
    """One try at sending a reminder: when, and the error if it failed."""

    __tablename__ = "reminder_attempt"

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminder.id", index=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    ok: bool
    error: str = Field(default="", max_length=300)


class PatientMerge(SQLModel, table=True):
    """A duplicate patient record merged into the surviving one.

    The duplicate is kept (inactive) and points here at its survivor. The database's
    immutability rules let a final row (signed note, ledger entry, attachment, measure
    score) change its ``patient_id`` only from a duplicate to its survivor as recorded
    here, with every other column unchanged (alembic 0009).
    """

    __tablename__ = "patient_merge"

    id: int | None = Field(default=None, primary_key=True)
    duplicate_patient_id: int = Field(foreign_key="patient.id", unique=True)
    survivor_patient_id: int = Field(foreign_key="patient.id", index=True)
    merged_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    merged_by: int | None = Field(default=None, foreign_key="user.id")
    reason: str = Field(default="", max_length=200)
    # What moved, e.g. "appointment 3, note 2; kept on the merged record: patient_consent 1".
    summary: str = Field(default="", max_length=2000)


class RecordChange(SQLModel, table=True):
    """One field of a registered record changed: what it was, what it became, who, when.

    Kept for patients' demographics and consents, coverages and episodes of care, so the
    desk can see a record's history (the audit log says who touched it; this says how).
    """

    __tablename__ = "record_change"
    __table_args__ = (Index("ix_record_change_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=30)
    entity_id: int
    patient_id: int = Field(foreign_key="patient.id", index=True)
    field: str = Field(max_length=40)
    old_value: str = Field(default="", max_length=200)
    new_value: str = Field(default="", max_length=200)
    changed_by: int | None = Field(default=None, foreign_key="user.id")
    changed_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
