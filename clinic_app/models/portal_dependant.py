"""A portal account's access to a dependant's records: a parent or guardian signs in with their
own account and sees (and books for) the child or person they are responsible for.

The desk grants the link from the dependant's profile and revokes it; a revoked link stays as a
record of who could see what, when. At most one live link per account and dependant."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Index, text
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow

# The Patient model's guarantor relationships, less "self" (an account holder's own record
# needs no link).
DEPENDANT_RELATIONSHIPS = ("parent", "spouse", "guardian", "other")


class PortalDependant(SQLModel, table=True):
    """Account ``account_id`` may see patient ``patient_id``'s records while ``revoked_at`` is empty."""

    __tablename__ = "portal_dependant"
    __table_args__ = (
        CheckConstraint("relationship IN ('parent', 'spouse', 'guardian', 'other')",
                        name="ck_portal_dependant_relationship"),
        CheckConstraint("(revoked_at IS NULL) = (revoked_by_user_id IS NULL)", name="ck_portal_dependant_revoked"),
        Index("uq_portal_dependant_live", "account_id", "patient_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="patient_account.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    relationship: str = Field(max_length=10)
    granted_by_user_id: int = Field(foreign_key="user.id")
    granted_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    revoked_by_user_id: int | None = Field(default=None, foreign_key="user.id")
