"""The e-mail that tells a patient the clinic answered them in the portal: never the content,
only that there is a message and where to read it.

``patient_notice`` builds it inside the staff's reply transaction (a read); the caller sends it
with ``send`` after its commit, so that the SMTP server is never waited on inside a
transaction, and a rolled-back reply sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from clinic_app import settings
from clinic_app.models import MessageThread, Patient

if TYPE_CHECKING:
    from clinic_app.services.frontdesk.reminders import EmailSender

PORTAL_MESSAGES = "/portal/messages"


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    body: str


def portal_link() -> str:
    """The portal's messages page, absolute when CLINIC_PUBLIC_URL is set."""
    return f"{settings.public_url()}{PORTAL_MESSAGES}"


def patient_notice(session: Session, *, thread_id: int) -> Notice | None:
    """The notice for the patient of a patient thread the clinic just answered; None for a
    staff thread or a patient without an e-mail address."""
    thread = session.get(MessageThread, thread_id)
    if thread is None or thread.kind != "patient":
        return None
    patient = session.get(Patient, thread.patient_id)
    if patient is None or not patient.email:
        return None
    clinic = settings.clinic_name()
    body = (f"Hello {patient.first_name},\n\n"
            f"You have a new message from {clinic} in your patient portal.\n"
            f"Sign in to read it: {portal_link()}\n\n"
            "For your privacy this e-mail does not contain the message.\n\n"
            f"{clinic}\n")
    return Notice(to=patient.email, subject=f"You have a new message from {clinic}", body=body)


def send(notice: Notice | None, *, email: EmailSender) -> bool:
    """Send a notice (after the reply's commit); False when there was none."""
    if notice is None:
        return False
    email.send(to=notice.to, subject=notice.subject, body=notice.body)
    return True
