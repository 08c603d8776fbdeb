"""Day KPIs for the manager's dashboard, as SQL aggregates (no loops over rows).

Definitions (also in README.md):
- visits by status: appointments starting that day at the location, by status.
- no-show rate: no-shows / (appointments scheduled - cancellations).
- notes awaiting signature: visits at the location, that day or earlier, in session
  with the note not yet signed.
- median documentation lag: median minutes from visit end to note signature, over
  that day's signed visits (a note signed before the visit ended counts as 0).
- charges: sum of charges whose date of service is that day.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func
from sqlmodel import Session, select

from clinic_app.models import Appointment, Charge, Location, Note
from clinic_app.services.actor import Actor
from clinic_app.services.clock import day_bounds
from clinic_app.services.errors import NotFound
from clinic_app.services.permissions import require
from clinic_app.services.scheduling import STATUS_LABELS


def _lag_minutes(dialect: str):
    if dialect == "sqlite":
        raw = (func.julianday(Note.signed_at) - func.julianday(Appointment.ends_at)) * 1440.0
    else:
        raw = func.extract("epoch", Note.signed_at - Appointment.ends_at) / 60.0
    return case((raw < 0, 0.0), else_=raw)


def day_kpis(session: Session, *, actor: Actor, location_id: int, day: dt.date) -> dict:
    """The dashboard's figures for one location's day."""
    require(actor.role, "kpi.view")
    return compute_day_kpis(session, location_id=location_id, day=day)


def compute_day_kpis(session: Session, *, location_id: int, day: dt.date) -> dict:
    """The figures, unchecked: for the live layer, which pushes only to dashboards that passed day_kpis."""
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound("That location does not exist.")
    start, end = day_bounds(day, location.timezone)
    in_day = (Appointment.location_id == location_id, Appointment.starts_at >= start, Appointment.starts_at < end)

    by_status = dict(
        session.exec(select(Appointment.status, func.count()).where(*in_day).group_by(Appointment.status)).all()
    )
    scheduled = sum(by_status.values())
    cancelled = by_status.get("cancelled", 0)
    no_shows = by_status.get("no_show", 0)
    denominator = scheduled - cancelled
    awaiting = session.exec(
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.location_id == location_id, Appointment.starts_at < end, Appointment.status == "in_session")
    ).one()

    lag = _lag_minutes(session.get_bind().dialect.name).label("lag")
    signed = (
        select(lag)
        .select_from(Appointment)
        .join(Note, Note.appointment_id == Appointment.id)
        .where(*in_day, Note.signed_at.is_not(None))
    )
    count = session.exec(select(func.count()).select_from(signed.subquery())).one()
    median = None
    if count:
        # The middle one or two values, picked by the database.
        middle = session.exec(signed.order_by(lag).offset((count - 1) // 2).limit(2 - count % 2)).all()
        median = sum(middle) / len(middle)

    charges_cents = session.exec(
        select(func.coalesce(func.sum(Charge.amount_cents), 0))
        .select_from(Charge)
        .join(Appointment, Appointment.id == Charge.appointment_id)
        .where(*in_day)
    ).one()
    return {
        "day": day.isoformat(),
        "by_status": [
            {"status": s, "label": STATUS_LABELS[s], "count": by_status.get(s, 0)} for s in STATUS_LABELS
        ],
        "scheduled": scheduled,
        "no_show_rate": (no_shows / denominator) if denominator else None,
        "awaiting_signature": awaiting,
        "median_lag_minutes": median,
        "charges_cents": int(charges_cents),
    }
