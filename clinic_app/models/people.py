"""People and places: locations, rooms, providers, staff users and patients."""

from __future__ import annotations

import datetime as dt
import unicodedata

from sqlalchemy import CheckConstraint, Column, Index, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow
from clinic_app.models.interop import touched_column

ROLES = ("reception", "clinician", "biller", "manager", "admin")


class Location(SQLModel, table=True):
    """A clinic site; its time zone is the one its schedule is shown in."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    timezone: str = Field(max_length=64, default="America/New_York")
    address: str = Field(default="", max_length=250)
    active: bool = True
    # A cancellation this many hours or fewer before the start is a late cancellation.
    late_cancel_hours: int = Field(default=24, sa_column_kwargs={"server_default": "24"})
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


class Room(SQLModel, table=True):
    """A treatment room at a location."""

    __table_args__ = (UniqueConstraint("location_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="location.id", index=True)
    name: str = Field(max_length=80)
    active: bool = True
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


class Provider(SQLModel, table=True):
    """A clinician who sees patients: a column on the calendar board."""

    __table_args__ = (CheckConstraint("npi IS NULL OR length(npi) = 10", name="ck_provider_npi_len"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    discipline: str = Field(max_length=40, default="physiotherapy")
    npi: str | None = Field(default=None, max_length=10)
    location_id: int = Field(foreign_key="location.id", index=True)
    active: bool = True
    # "PTA" or "OTA" for a physical or occupational therapist assistant: Medicare wants CQ or CO
    # on the services they furnish (charting adds it to every charge of their notes).
    assistant_kind: str = Field(default="", max_length=4)
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


class User(SQLModel, table=True):
    """A member of staff who signs in; exactly one role."""

    __table_args__ = (
        CheckConstraint(
            "role IN ('reception', 'clinician', 'biller', 'manager', 'admin')", name="ck_user_role"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    location_id: int | None = Field(default=None, foreign_key="location.id")
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # Account safeguards: lock-out after repeated failures, a forced change of an
    # admin-set password at the first sign-in.
    failed_sign_ins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    must_change_password: bool = False
    password_changed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class UserSession(SQLModel, table=True):
    """A signed-in browser: only a hash of its token is kept."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # A fingerprint of the account's password hash when the session began (services.auth.password_stamp):
    # a password changed anywhere ends every session that began with the old one.
    password_stamp: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})


PREFERRED_CHANNELS = ("sms", "email", "phone", "none")
SEXES = ("female", "male", "other", "unknown")
GUARANTOR_RELATIONSHIPS = ("self", "parent", "spouse", "guardian", "other")


class Patient(SQLModel, table=True):
    """A person the clinic treats, with what the front desk needs to reach and bill them.

    ``search_last``, ``search_first`` and ``phone_digits`` are search keys kept in step
    with the name and phone (see ``_fill_search_keys``), indexed so that type-ahead is
    a prefix range scan on any database.
    """

    __table_args__ = (
        CheckConstraint(
            "preferred_channel IN ('sms', 'email', 'phone', 'none')", name="ck_patient_channel"
        ),
        CheckConstraint(
            "guarantor_relationship IN ('self', 'parent', 'spouse', 'guardian', 'other')",
            name="ck_patient_guarantor_rel",
        ),
        CheckConstraint(
            "guarantor_relationship = 'self' OR guarantor_name <> ''", name="ck_patient_guarantor_named"
        ),
        Index("ix_patient_search_name", "search_last", "search_first"),
        Index("ix_patient_search_first", "search_first"),
        Index("ix_patient_phone_digits", "phone_digits"),
        Index("ix_patient_birth_date", "birth_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mrn: str = Field(max_length=20, unique=True)
    first_name: str = Field(max_length=80)
    last_name: str = Field(max_length=80, index=True)
    birth_date: dt.date
    phone: str = Field(default="", max_length=32)
    email: str = Field(default="", max_length=120)
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # Registration (issue 3): demographics, contact, emergency contact, guarantor.
    sex: str = Field(default="unknown", max_length=10, sa_column_kwargs={"server_default": "unknown"})
    address_line: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    city: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})
    region: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    postal_code: str = Field(default="", max_length=12, sa_column_kwargs={"server_default": ""})
    preferred_channel: str = Field(default="phone", max_length=8, sa_column_kwargs={"server_default": "phone"})
    reminders_opt_out: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    emergency_name: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": ""})
    emergency_relationship: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    emergency_phone: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    guarantor_relationship: str = Field(default="self", max_length=10, sa_column_kwargs={"server_default": "self"})
    guarantor_name: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": ""})
    guarantor_phone: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    search_last: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})
    search_first: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})
    phone_digits: str = Field(default="", max_length=20, sa_column_kwargs={"server_default": ""})
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


def search_key(text: str) -> str:
    """A name as the search index holds it: lower case, no accents, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed.lower() if ch.isascii() and ch.isalnum())


def digits(text: str) -> str:
    """The digits of a phone number."""
    return "".join(ch for ch in (text or "") if ch.isdigit())


def fill_search_keys(patient: Patient) -> None:
    """Bring a patient's search keys in step with their name and phone."""
    patient.search_last = search_key(patient.last_name)[:80]
    patient.search_first = search_key(patient.first_name)[:80]
    patient.phone_digits = digits(patient.phone)[:20]


@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _fill_search_keys(_mapper, _connection, patient: Patient) -> None:
    fill_search_keys(patient)


CONSENT_KINDS = ("treatment", "privacy_notice", "financial", "sms", "email")


class PatientConsent(SQLModel, table=True):
    """A consent the patient gave, and the date they gave it."""

    __tablename__ = "patient_consent"
    __table_args__ = (
        UniqueConstraint("patient_id", "kind"),
        CheckConstraint(
            "kind IN ('treatment', 'privacy_notice', 'financial', 'sms', 'email')", name="ck_patient_consent_kind"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    kind: str = Field(max_length=20)
    given_on: dt.date
    recorded_by: int | None = Field(default=None, foreign_key="user.id")
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
