"""A payer's own progress-note numbers (the progress-note rule, services/tasks/rules.py).

A progress note is due after 10 visits or 30 days since the evaluation or last progress note,
whichever first; a payer can have its own numbers (a row of ``progress_note_limit``). The
patient's payer is the one of their active primary coverage in effect today. Nothing here
commits.
"""

from __future__ import annotations

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Payer, ProgressNoteLimit
from clinic_app.models.tasks import PROGRESS_DAYS_RANGE, PROGRESS_VISITS_RANGE
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require

DEFAULT_VISITS = 10
DEFAULT_DAYS = 30


def progress_limits(session: Session) -> dict[int, tuple[int, int]]:
    """Every payer's own (visits, days)."""
    return {row.payer_id: (row.visits, row.days) for row in session.exec(select(ProgressNoteLimit))}


def _whole(value, low: int, high: int, what: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise InvalidInput(f"Enter the {what} as a whole number from {low} to {high}.")
    return number


def set_progress_limit(session: Session, *, actor: Actor, payer_id: int, visits: int | str | None,
                       days: int | str | None) -> ProgressNoteLimit | None:
    """Give a payer its own numbers, or (both None) back to the clinic's 10 visits / 30 days.
    The progress-note tasks follow at the next sweep or visit event."""
    require(actor.role, "billing.setup")
    for_write(session)
    payer = session.get(Payer, payer_id)
    if payer is None:
        raise NotFound("That payer no longer exists.")
    row = session.exec(select(ProgressNoteLimit).where(ProgressNoteLimit.payer_id == payer_id)).first()
    if visits is None and days is None:
        if row is not None:
            session.delete(row)
        audit.record(session, actor=actor, action="update", entity="progress_note_limit", entity_id=payer_id,
                     detail=f"{payer.name}: the clinic's {DEFAULT_VISITS} visits / {DEFAULT_DAYS} days")
        session.flush()
        return None
    visits = _whole(visits, *PROGRESS_VISITS_RANGE, "number of visits")
    days = _whole(days, *PROGRESS_DAYS_RANGE, "number of days")
    row = row or ProgressNoteLimit(payer_id=payer_id, visits=visits, days=days)
    row.visits, row.days, row.updated_at = visits, days, utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="update", entity="progress_note_limit", entity_id=payer_id,
                 detail=f"{payer.name}: {visits} visits / {days} days")
    session.flush()
    return row
