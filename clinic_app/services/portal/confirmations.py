"""The e-mail a patient gets after booking, moving or cancelling a visit online: the
confirmation with its .ics invitation (calendar.send_confirmation), and on a booking the link
to the visit's intake forms when a form is still to be filled in (intake.reminder_link).

Called after the booking's own transaction committed, in a transaction of its own (the caller
commits; a failed send rolls back the audit entry and the new intake link). Never commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session

from clinic_app.models import Appointment, PatientAccount
from clinic_app.services.portal import calendar, intake

if TYPE_CHECKING:
    from clinic_app.services.frontdesk.reminders import EmailSender


def after_change(session: Session, *, appointment_id: int, email: EmailSender, booked: bool = False,
                 account_id: int | None = None) -> bool:
    """Send the confirmation (True if sent); ``booked``: a new booking, which carries the intake
    link. ``account_id``: the portal account that made the change; when it is a parent's or
    guardian's acting for a dependant, the confirmation goes to that account's e-mail."""
    account = session.get(PatientAccount, account_id) if account_id is not None else None
    appointment = session.get(Appointment, appointment_id)
    guardian = account.email if account and appointment and account.patient_id != appointment.patient_id else ""
    note = ""
    if booked:
        link = intake.reminder_link(session, appointment_id=appointment_id)
        if link:
            note = f"Before your visit, please fill in your forms: {link}"
    return calendar.send_confirmation(session, appointment_id=appointment_id, email=email, note=note,
                                      guardian_email=guardian)
