"""Appointment types, appointments and their status history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow
from clinic_app.models.interop import touched_column

STATUSES = ("booked", "arrived", "in_session", "ready_to_bill", "billed", "no_show", "cancelled")
# Statuses that no longer hold their slot: the time can be booked again.
RELEASED = ("no_show", "cancelled")

_status_list = ", ".join(f"'{s}'" for s in STATUSES)


class AppointmentType(SQLModel, table=True):
    """A kind of visit with its usual length and colour on the board."""

    __tablename__ = "appointment_type"
    __table_args__ = (CheckConstraint("duration_minutes BETWEEN 5 AND 480", name="ck_apptype_duration"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    duration_minutes: int = 30
    color: str = Field(default="blue", max_length=20)
    active: bool = True


class Appointment(SQLModel, table=True):
    """A booked visit: one patient, one provider, maybe one room, a time span in UTC."""

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ck_appointment_span"),
        CheckConstraint(f"status IN ({_status_list})", name="ck_appointment_status"),
        Index("ix_appointment_location_start", "location_id", "starts_at"),
        Index("ix_appointment_provider_start", "provider_id", "starts_at"),
        Index("ix_appointment_room_start", "room_id", "starts_at"),
        Index("ix_appointment_status", "status"),
        Index("ix_appointment_patient_start", "patient_id", "starts_at", "status"),  # new patients (KPIs), index only
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    provider_id: int = Field(foreign_key="provider.id")
    location_id: int = Field(foreign_key="location.id")
    room_id: int | None = Field(default=None, foreign_key="room.id")
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    status: str = Field(default="booked", max_length=16)
    arrived_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    session_started_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    cancel_reason: str = Field(default="", max_length=200)
    # Cancelled inside the location's late-cancel window (issue 3).
    late_cancel: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    checked_out_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # Booked by the patient in the portal (services/portal/booking.py), shown on the board's card.
    booked_online: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # An online booking at a location whose bookings need the desk's approval, not approved yet.
    awaiting_approval: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=touched_column())


class AppointmentEvent(SQLModel, table=True):
    """One status change of an appointment: from what, to what, by whom, when."""

    __tablename__ = "appointment_event"

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    note: str = Field(default="", max_length=200)


class ProviderHours(SQLModel, table=True):
    """A provider's working window on one weekday, in the location's wall-clock minutes.

    Several windows on a day make breaks (08:00-12:00 and 13:00-17:00). A provider with
    no windows at all has no hours set and is bookable at any time.
    """

    __tablename__ = "provider_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_provider_hours_weekday"),
        CheckConstraint("start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute", name="ck_provider_hours_span"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    weekday: int  # Monday = 0, as datetime.date.weekday()
    start_minute: int
    end_minute: int


class ProviderTimeOff(SQLModel, table=True):
    """A span when a provider does not see patients (leave, training, a closed afternoon)."""

    __tablename__ = "provider_time_off"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ck_provider_time_off_span"),
        Index("ix_provider_time_off_provider_start", "provider_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id")
    starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reason: str = Field(default="", max_length=120)


class AppointmentMove(SQLModel, table=True):
    """A reschedule: where and when the appointment was before it moved (kept as history)."""

    __tablename__ = "appointment_move"

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    old_provider_id: int = Field(foreign_key="provider.id")
    old_room_id: int | None = Field(default=None, foreign_key="room.id")
    old_starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    old_ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    new_provider_id: int = Field(foreign_key="provider.id")
    new_room_id: int | None = Field(default=None, foreign_key="room.id")
    new_starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    new_ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reason: str = Field(default="", max_length=200)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
