"""A patient's own change to their contact details, asked in the portal, that the desk
accepts (the record changes, with field history) or declines."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Text
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class ProfileChange(SQLModel, table=True):
    """The fields the patient asked to change (JSON: field -> new value), and the desk's answer."""

    __tablename__ = "profile_change"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'accepted', 'declined', 'replaced')", name="ck_profile_change_status"),
        CheckConstraint("(status = 'waiting') = (decided_at IS NULL)", name="ck_profile_change_decided"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    account_id: int = Field(foreign_key="patient_account.id")
    changes: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="waiting", max_length=10)
    requested_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    decided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    decided_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    reason: str = Field(default="", max_length=200)
