"""People and places: locations, rooms, providers, staff users and patients."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow

ROLES = ("reception", "clinician", "biller", "manager", "admin")


class Location(SQLModel, table=True):
    """A clinic site; its time zone is the one its schedule is shown in."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    timezone: str = Field(max_length=64, default="America/New_York")
    address: str = Field(default="", max_length=250)
    active: bool = True


class Room(SQLModel, table=True):
    """A treatment room at a location."""

    __table_args__ = (UniqueConstraint("location_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="location.id", index=True)
    name: str = Field(max_length=80)
    active: bool = True


class Provider(SQLModel, table=True):
    """A clinician who sees patients: a column on the calendar board."""

    __table_args__ = (CheckConstraint("npi IS NULL OR length(npi) = 10", name="ck_provider_npi_len"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    discipline: str = Field(max_length=40, default="physiotherapy")
    npi: str | None = Field(default=None, max_length=10)
    location_id: int = Field(foreign_key="location.id", index=True)
    active: bool = True


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


class Patient(SQLModel, table=True):
    """A person the clinic treats."""

    id: int | None = Field(default=None, primary_key=True)
    mrn: str = Field(max_length=20, unique=True)
    first_name: str = Field(max_length=80)
    last_name: str = Field(max_length=80, index=True)
    birth_date: dt.date
    phone: str = Field(default="", max_length=32)
    email: str = Field(default="", max_length=120)
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
