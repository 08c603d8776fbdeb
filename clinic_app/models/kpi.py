"""Pre-aggregated KPI figures: one row per local day x location x provider x room.

Never edited by hand: services/kpi_rollup fills a (location, day) from the appointments,
notes and charges, and database triggers (migration 0012) record in ``kpi_dirty`` every
visit whose figures a change may have moved, so the next dashboard load recomputes its day.
Migration 0014 adds money (kpi_money_day), claim (kpi_claim_day) and episode (kpi_case_day)
rollups, kept exact the same way.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Float, Index
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime


class _VisitFigures(SQLModel):
    """The visit figures kpi_visit_day and kpi_visit_payer_day hold for their group (``sa_type``,
    not a shared ``sa_column``: each table gets its own column)."""

    location_id: int = Field(primary_key=True)
    day: dt.date = Field(primary_key=True)
    provider_id: int = Field(primary_key=True)
    scheduled: int = 0
    completed: int = 0
    arrivals: int = 0
    no_shows: int = 0
    late_cancels: int = 0
    advance_cancels: int = 0
    wait_count: int = 0
    wait_minutes: float = Field(default=0.0, sa_type=Float)
    lag_count: int = 0
    lag_minutes: float = Field(default=0.0, sa_type=Float)
    charges_cents: int = Field(default=0, sa_type=BigInteger)
    new_patients: int = 0  # attended visits that are the patient's first attended visit ever


class KpiVisitDay(_VisitFigures, table=True):
    __tablename__ = "kpi_visit_day"

    room_id: int = Field(primary_key=True)  # 0 = no room
    held_minutes: float = Field(default=0.0, sa_type=Float)


class KpiLedgerDay(SQLModel, table=True):
    """Ledger totals per UTC day of entry and payer (0 = patients): open AR as a sum of a few
    thousand rows. Its computed days are kpi_day_done rows of location 0."""

    __tablename__ = "kpi_ledger_day"

    day: dt.date = Field(primary_key=True)
    payer_id: int = Field(primary_key=True)
    amount_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class KpiDayDone(SQLModel, table=True):
    """A (location, local day) whose rollup rows are computed (days with no visit have none)."""

    __tablename__ = "kpi_day_done"

    location_id: int = Field(primary_key=True)
    day: dt.date = Field(primary_key=True)


class KpiDirty(SQLModel, table=True):
    """A visit (its location and start) whose day's figures changed since the rollup was
    computed; location 0: a ledger entry (its time), whose UTC day's totals changed."""

    __tablename__ = "kpi_dirty"

    id: int | None = Field(default=None, primary_key=True)
    location_id: int
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class KpiMoneyDay(SQLModel, table=True):
    """Ledger money per UTC day x visit location x provider x payer (0 = none: an entry with
    no visit, or the patient): payments and refunds and contractual adjustments made that
    day, and charges billed for that date of service. Computed with the ledger's UTC day
    (kpi_day_done / kpi_dirty location 0), migration 0014."""

    __tablename__ = "kpi_money_day"

    day: dt.date = Field(primary_key=True)
    location_id: int = Field(primary_key=True)
    provider_id: int = Field(primary_key=True)
    payer_id: int = Field(primary_key=True)
    paid_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    adjusted_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    billed_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class KpiClaimDay(SQLModel, table=True):
    """Claim events per local day x visit location x provider x payer: first submissions (and
    how many were answered, and clean at the first answer) and adjudications (paid or
    denied), grouped by the time of the claim's previous adjudication (and denial), if any:
    a range counts an adjudicated claim once, at its first adjudication inside the range."""

    __tablename__ = "kpi_claim_day"
    __table_args__ = (Index("ix_kpi_claim_day_location_day", "location_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    location_id: int
    day: dt.date
    provider_id: int
    payer_id: int
    prev_adjudicated_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    prev_denied_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    first_submitted: int = 0
    answered: int = 0
    clean: int = 0
    adjudicated: int = 0
    denied: int = 0


class _CaseDayFields(SQLModel):
    """What kpi_case_day and kpi_case_payer_day hold for a (location, local day, provider)."""

    id: int | None = Field(default=None, primary_key=True)
    location_id: int
    day: dt.date
    provider_id: int
    prev_any: dt.date | None = None
    prev_location: dt.date | None = None
    prev_provider: dt.date | None = None
    prev_both: dt.date | None = None
    visits: int = 0


class KpiCaseDay(_CaseDayFields, table=True):
    """Attended visits in an episode of care per local day x location x provider, grouped by
    the local day of the episode's previous attended visit (anywhere; at the same location;
    with the same provider; both), in the order (local day, start, id): a range counts an
    episode once, at its first visit inside the range (whose previous one is before it)."""

    __tablename__ = "kpi_case_day"
    __table_args__ = (Index("ix_kpi_case_day_location_day", "location_id", "day"),)


class KpiVisitPayerDay(_VisitFigures, table=True):
    """The visit figures of kpi_visit_day per local day x location x provider x the visit's
    payer (the patient's active primary coverage on the visit's local day; 0 = none): the
    dashboard's payer filter (migration 0015). Rooms and booked minutes are left out (the
    utilisation tiles take no payer). A coverage added, changed or removed marks every visit
    of the patient (its payer may have changed)."""

    __tablename__ = "kpi_visit_payer_day"
    __table_args__ = (Index("ix_kpi_visit_payer_day_payer_day", "payer_id", "day"),)

    payer_id: int = Field(primary_key=True)


class KpiCasePayerDay(_CaseDayFields, table=True):
    """kpi_case_day per payer (migration 0015): attended episode visits with that payer per
    local day x location x provider, grouped by the local day of the episode's previous
    attended visit with the same payer (anywhere; at the location; with the provider; both)."""

    __tablename__ = "kpi_case_payer_day"
    __table_args__ = (Index("ix_kpi_case_payer_day_payer_day", "payer_id", "day"),)

    payer_id: int
