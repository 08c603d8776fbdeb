"""Machine access: bearer API tokens for the FHIR interface."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


def touched_column() -> Column:
    """When the row last changed (FHIR ``meta.lastUpdated``, bulk export's ``_since``): set on
    insert and on every UPDATE through SQLAlchemy, ORM or Core. Nullable so that the column
    could be added without rebuilding tables that carry triggers (migration 0019 fills it)."""
    return Column(UTCDateTime, nullable=True, default=utcnow, onupdate=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token of one user for the API: only its SHA-256 is kept.

    The token acts as its user (same role rules as the screens), narrowed by its
    scopes (SMART style, e.g. ``user/Patient.read``), until it expires or is revoked.
    """

    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint("expires_at > created_at", name="ck_api_token_expiry"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    label: str = Field(default="", max_length=80)
    scopes: str = Field(max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
