"""Online payments through a gateway, calendar invitations' sequence numbers, clinicians'
private iCal feeds (issue 18: the patient portal's payment and calendar parts).

A card never reaches this database: a payment row holds the gateway's payment id, the amount
and what became of it. The gateway's payment id and the checkout's idempotency key are each
unique, and a payment is posted to the ledger at most once (``ledger_entry_id`` unique).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow

PAYMENT_STATUSES = ("pending", "succeeded", "declined")
_payment_status_list = ", ".join(f"'{s}'" for s in PAYMENT_STATUSES)


class OnlinePayment(SQLModel, table=True):
    """One payment a patient started online: created pending, then succeeded (posted to the
    ledger once) or declined (nothing posted)."""

    __tablename__ = "online_payment"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="ck_online_payment_amount"),
        CheckConstraint(f"status IN ({_payment_status_list})", name="ck_online_payment_status"),
        CheckConstraint("(status = 'succeeded') = (ledger_entry_id IS NOT NULL)", name="ck_online_payment_posted"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    gateway: str = Field(max_length=16)
    gateway_payment_id: str = Field(max_length=64, unique=True)
    idempotency_key: str = Field(max_length=64, unique=True)
    amount_cents: int
    currency: str = Field(default="usd", max_length=3)
    prepayment: bool = False
    status: str = Field(default="pending", max_length=10)
    decline_reason: str = Field(default="", max_length=200)
    ledger_entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id", unique=True)
    receipt_sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    settled_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class CalendarInvite(SQLModel, table=True):
    """The invitation state of one appointment: its SEQUENCE, raised each time what the
    invitation says (time, place, clinician, cancelled) changes."""

    __tablename__ = "calendar_invite"

    appointment_id: int = Field(foreign_key="appointment.id", primary_key=True)
    sequence: int = 0
    fingerprint: str = Field(max_length=64)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class IcalFeed(SQLModel, table=True):
    """A clinician's private feed of their own schedule: only the SHA-256 of its secret is
    kept; turning it off empties the hash (the old address answers 404)."""

    __tablename__ = "ical_feed"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", unique=True)
    secret_hash: str | None = Field(default=None, max_length=64, unique=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    changed_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
