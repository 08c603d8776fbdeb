"""All tables, imported here so that SQLModel.metadata knows every one."""

from clinic_app.models.audit import AuditLog
from clinic_app.models.billing import Charge, Fee
from clinic_app.models.clinical import Note, NoteDiagnosis, NoteProcedure
from clinic_app.models.frontdesk import (
    AppointmentSeries,
    CareCase,
    CaseVisit,
    Reminder,
    ReminderAttempt,
    SeriesMember,
    WaitlistEntry,
)
from clinic_app.models.people import (
    CONSENT_KINDS,
    ROLES,
    Location,
    Patient,
    PatientConsent,
    Provider,
    Room,
    User,
    UserSession,
)
from clinic_app.models.scheduling import (
    RELEASED,
    STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentMove,
    AppointmentType,
    ProviderHours,
    ProviderTimeOff,
)

__all__ = [
    "CONSENT_KINDS",
    "RELEASED",
    "ROLES",
    "STATUSES",
    "Appointment",
    "AppointmentEvent",
    "AppointmentMove",
    "AppointmentSeries",
    "AppointmentType",
    "AuditLog",
    "CareCase",
    "CaseVisit",
    "Charge",
    "Fee",
    "Location",
    "Note",
    "NoteDiagnosis",
    "NoteProcedure",
    "Patient",
    "PatientConsent",
    "Provider",
    "ProviderHours",
    "ProviderTimeOff",
    "Reminder",
    "ReminderAttempt",
    "Room",
    "SeriesMember",
    "User",
    "UserSession",
    "WaitlistEntry",
]
