"""The clinic's fee list and the charges captured when a note is signed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class Fee(SQLModel, table=True):
    """A procedure code the clinic bills and its price per unit, in cents.

    Only codes here can be charged. CPT descriptions are AMA-licensed, so the
    description is whatever the clinic types (empty by default).
    """

    __table_args__ = (CheckConstraint("amount_cents >= 0", name="ck_fee_amount"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=5, unique=True)
    description: str = Field(default="", max_length=120)
    amount_cents: int
    timed: bool = False
    active: bool = True


class Charge(SQLModel, table=True):
    """One charge line of a signed visit. A visit has exactly one set of them."""

    __table_args__ = (
        UniqueConstraint("appointment_id", "line_no"),
        UniqueConstraint("appointment_id", "code"),
        CheckConstraint("units >= 1", name="ck_charge_units"),
        CheckConstraint("amount_cents >= 0", name="ck_charge_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    note_id: int = Field(foreign_key="note.id")
    line_no: int
    code: str = Field(max_length=5)
    units: int
    unit_price_cents: int
    amount_cents: int
    diagnosis_codes: str = Field(default="", max_length=40)
    # The line's modifiers from the note, with CQ/CO for an assistant's services ("GP,CQ").
    modifiers: str = Field(default="", max_length=11)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))


class ChargePrice(SQLModel, table=True):
    """One pricing of a charge: at signing, then each re-pricing while the visit is unbilled.

    The charge row carries its current price (what claims, bills and reports read); these
    rows are its history and say which schedule priced it: a payer's (``payer_id``) or the
    self-pay rates (no payer). The latest row is the charge's price basis. Charges captured
    before migration 0021 have no row until they are first re-priced. Append-only (**DB**),
    and the database lets a charge's price change only to the values of its latest row.
    """

    __tablename__ = "charge_price"
    __table_args__ = (
        CheckConstraint("unit_price_cents >= 0 AND amount_cents >= 0", name="ck_charge_price_amounts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    charge_id: int = Field(foreign_key="charge.id", index=True)
    payer_id: int | None = Field(default=None, foreign_key="payer.id")
    coverage_id: int | None = Field(default=None, foreign_key="coverage.id")
    unit_price_cents: int
    amount_cents: int
    # The price it replaced (None for the price given at signing).
    previous_unit_price_cents: int | None = None
    previous_amount_cents: int | None = None
    reason: str = Field(default="", max_length=200)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
