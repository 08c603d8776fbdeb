"""Claim batches: the 837P files written for the claims ready to send, kept to be downloaded
again, and sent once (to the clearinghouse by the biller, or into its outbox folder)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime, utcnow


class ClaimBatch(SQLModel, table=True):
    """One batch: a zip of one 837P file per payer, as written (re-downloads give the same bytes)."""

    __tablename__ = "claim_batch"
    __table_args__ = (
        CheckConstraint("status IN ('ready', 'sent')", name="ck_claim_batch_status"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="ck_claim_batch_sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="ready", max_length=5)
    claim_count: int
    total_cents: int
    payer_names: str = Field(default="", max_length=400)
    file_names: str = Field(default="", max_length=1000)  # the 837P files in the zip, comma separated
    zip_data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    zip_sha256: str = Field(max_length=64)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    sent_by: int | None = Field(default=None, foreign_key="user.id")
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    sent_how: str = Field(default="", max_length=80)  # "marked sent by the biller", "written to the outbox ..."


class ClaimBatchClaim(SQLModel, table=True):
    """A claim in a batch (a corrected claim goes out again in a later batch)."""

    __tablename__ = "claim_batch_claim"
    __table_args__ = (UniqueConstraint("batch_id", "claim_id", name="uq_claim_batch_claim"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="claim_batch.id", index=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
