"""The patient portal: patients' own accounts, their sign-in sessions, one-time links
(invitations, check-in) and each location's online booking settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow

PORTAL_TOKEN_KINDS = ("invite", "checkin")


class PatientAccount(SQLModel, table=True):
    """A patient's own sign-in to the portal: one per patient, e-mail as the user name.

    ``password_hash`` is empty until the patient sets a password from their invitation."""

    __tablename__ = "patient_account"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", unique=True)
    email: str = Field(max_length=120, unique=True)
    password_hash: str = Field(default="", max_length=255)
    active: bool = True
    failed_sign_ins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    password_set_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class PortalSession(SQLModel, table=True):
    """A patient signed in on a browser (the ``portal_session`` cookie): only its hash is kept."""

    __tablename__ = "portal_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    account_id: int = Field(foreign_key="patient_account.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    password_stamp: str = Field(default="", max_length=16)


class PortalToken(SQLModel, table=True):
    """A one-time link: an invitation to set a password, or a day-of check-in for one visit.

    Only the SHA-256 of the token is stored; ``used_at`` makes it single use."""

    __tablename__ = "portal_token"
    __table_args__ = (CheckConstraint("kind IN ('invite', 'checkin')", name="ck_portal_token_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=10)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class OnlineBooking(SQLModel, table=True):
    """A location's online booking rules. Types and providers are comma-separated ids."""

    __tablename__ = "online_booking"
    __table_args__ = (
        CheckConstraint("min_notice_hours >= 0 AND days_ahead >= 1 AND max_upcoming >= 1 "
                        "AND cancel_window_hours >= 0", name="ck_online_booking_ranges"),
        CheckConstraint("day_of_reminder_hours IS NULL OR day_of_reminder_hours BETWEEN 1 AND 12",
                        name="ck_online_booking_day_of_hours"),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="location.id", unique=True)
    enabled: bool = False
    type_ids: str = Field(default="", max_length=400)
    provider_ids: str = Field(default="", max_length=400)
    new_patients: bool = True
    returning_patients: bool = True
    min_notice_hours: int = 12
    days_ahead: int = 28
    max_upcoming: int = 3
    needs_approval: bool = False
    cancel_window_hours: int = 24
    # Patients may register themselves at /portal/register (services/portal/registration.py).
    self_registration: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Online check-in link in the reminder sent on the visit's day; None follows ``enabled``
    # (on when the location's portal booking is on).
    online_checkin: bool | None = None
    # A second reminder this many hours before the visit, on its own day; None: none.
    day_of_reminder_hours: int | None = None


REGISTRATION_STATUSES = ("unverified", "verified", "accepted", "declined", "replaced")


class PortalRegistration(SQLModel, table=True):
    """A patient's own registration from /portal/register, until the desk decides on it.

    ``unverified`` until the e-mail's one-time link is followed (only its SHA-256 is kept,
    ``verified_at`` makes it single use), then ``verified`` (the desk's list), then ``accepted``
    (``patient_id``: the record the new account belongs to) or ``declined`` (``decline_reason``).
    A newer registration for the same e-mail ``replaced`` an open one. The password's argon2
    hash waits here until the account is made, and is cleared once the desk has decided."""

    __tablename__ = "portal_registration"
    __table_args__ = (
        CheckConstraint("status IN ('unverified', 'verified', 'accepted', 'declined', 'replaced')",
                        name="ck_portal_registration_status"),
        CheckConstraint("status <> 'accepted' OR patient_id IS NOT NULL", name="ck_portal_registration_patient"),
        CheckConstraint("status <> 'declined' OR decline_reason <> ''", name="ck_portal_registration_reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(max_length=80)
    last_name: str = Field(max_length=80)
    birth_date: dt.date
    email: str = Field(max_length=120, index=True)
    phone: str = Field(default="", max_length=32)
    location_id: int = Field(foreign_key="location.id")
    password_hash: str = Field(default="", max_length=255)
    token_hash: str = Field(max_length=64, unique=True)
    status: str = Field(default="unverified", max_length=10, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    verified_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    decided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decline_reason: str = Field(default="", max_length=300)
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)


class ReleasedDocument(SQLModel, table=True):
    """A document a clinician shares with the patient in the portal: today the visit summary of
    a signed note (its PDF is made from the signed note when the patient downloads it).

    One row per note and kind: sharing again after "Stop sharing" reuses it. ``withdrawn_at``
    set means the patient no longer sees it; the audit log keeps every release and withdrawal."""

    __tablename__ = "released_document"
    __table_args__ = (
        UniqueConstraint("note_id", "kind", name="uq_released_document_note_kind"),
        CheckConstraint("kind IN ('visit_summary')", name="ck_released_document_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    note_id: int = Field(foreign_key="note.id")
    kind: str = Field(default="visit_summary", max_length=20)
    title: str = Field(max_length=120)
    released_by_user_id: int = Field(foreign_key="user.id")
    released_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    withdrawn_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    withdrawn_by_user_id: int | None = Field(default=None, foreign_key="user.id")
