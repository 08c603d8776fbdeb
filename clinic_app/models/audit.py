"""The append-only audit log of who viewed or changed what."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class AuditLog(SQLModel, table=True):
    """One view, change, sign-in or export. The database refuses updates and deletes,
    and each row carries the hash of the one before it, so an edit made around the
    database's rules (or a removed row) shows up in ``audit verify``."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    user_id: int | None = Field(default=None, foreign_key="user.id")
    role: str = Field(default="", max_length=16)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    patient_id: int | None = Field(default=None, index=True)
    source: str = Field(default="", max_length=80)
    detail: str = Field(default="", max_length=200)
    prev_hash: str = Field(default="", max_length=64)
    row_hash: str = Field(default="", max_length=64)
    # True from the first row written with the keyed chain (HMAC with CLINIC_AUDIT_KEY, migration
    # 0016); rows before it keep their plain SHA-256 links and are checked as such.
    keyed: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
