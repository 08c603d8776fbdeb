"""Minutes between two timestamps in SQL, on SQLite and PostgreSQL alike: the dashboard's
queries (kpi) and the daily rollups (kpi_rollup) both measure with these."""

from __future__ import annotations

from sqlalchemy import case, func

from clinic_app.models import Appointment, Note


def minutes_between(dialect: str, later, earlier):
    """``later - earlier`` in minutes (a float)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 1440.0
    return func.extract("epoch", later - earlier) / 60.0


def lag_minutes(dialect: str):
    """Documentation lag: from the visit's end to the note's signature, in minutes (never below 0)."""
    raw = minutes_between(dialect, Note.signed_at, Appointment.ends_at)
    return case((raw < 0, 0.0), else_=raw)
