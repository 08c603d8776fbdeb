"""Pre-aggregated KPI figures: one row per local day x location x provider x room.

Never edited by hand: services/kpi_rollup fills a (location, day) from the appointments,
notes and charges, and database triggers (migration 0012) record in ``kpi_dirty`` every
visit whose figures a change may have moved, so the next dashboard load recomputes its day.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Float
from sqlmodel import Field, SQLModel

from clinic_app.db import UTCDateTime


class KpiVisitDay(SQLModel, table=True):
    __tablename__ = "kpi_visit_day"

    location_id: int = Field(primary_key=True)
    day: dt.date = Field(primary_key=True)
    provider_id: int = Field(primary_key=True)
    room_id: int = Field(primary_key=True)  # 0 = no room
    scheduled: int = 0
    completed: int = 0
    arrivals: int = 0
    no_shows: int = 0
    late_cancels: int = 0
    advance_cancels: int = 0
    held_minutes: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    wait_count: int = 0
    wait_minutes: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    lag_count: int = 0
    lag_minutes: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    charges_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    new_patients: int = 0  # attended visits that are the patient's first attended visit ever


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
