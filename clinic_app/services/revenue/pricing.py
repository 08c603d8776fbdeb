"""What prices a patient's visit on a day: the coverage in effect then (by priority), and the
unit price of a fee from that payer's schedule or the self-pay rates.

Charges are priced with these at signing (``charting.sign_note``) and again when coverage
changes (``repricing``); claims, eligibility checks and the board read the same coverage.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_
from sqlmodel import Session, select

from clinic_app.models import Coverage, Fee, FeeSchedule


def coverage_on(session: Session, *, patient_id: int, day: dt.date, priority: int = 1) -> Coverage | None:
    """The patient's active coverage of that priority on ``day``, if any."""
    return session.exec(
        select(Coverage)
        .where(Coverage.patient_id == patient_id, Coverage.priority == priority, Coverage.active)
        .where(Coverage.effective_from <= day)
        .where(or_(Coverage.effective_to.is_(None), Coverage.effective_to >= day))
        .order_by(Coverage.effective_from.desc())
    ).first()


def unit_price(session: Session, *, fee: Fee, patient_id: int, day: dt.date) -> int:
    """The price per unit of ``fee``'s code for this patient on ``day``.

    The primary payer's schedule if the patient is covered that day, else the
    self-pay rate; either falls back to the clinic's standard fee when the schedule
    has no row for the code.
    """
    coverage = coverage_on(session, patient_id=patient_id, day=day)
    payer_id = coverage.payer_id if coverage else None
    where = FeeSchedule.payer_id == payer_id if payer_id else FeeSchedule.payer_id.is_(None)
    row = session.exec(select(FeeSchedule).where(FeeSchedule.code == fee.code, where)).first()
    return row.amount_cents if row else fee.amount_cents
