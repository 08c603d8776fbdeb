"""All tables, imported here so that SQLModel.metadata knows every one."""

from clinic_app.models.audit import AuditLog
from clinic_app.models.billing import Charge, Fee
from clinic_app.models.clinical import Note, NoteDiagnosis, NoteProcedure
from clinic_app.models.interop import ApiToken
from clinic_app.models.people import ROLES, Location, Patient, Provider, Room, User, UserSession
from clinic_app.models.revenue import (
    Adjustment,
    BillingProfile,
    Claim,
    ClaimDiagnosis,
    ClaimEvent,
    ClaimLine,
    Coverage,
    FeeSchedule,
    LedgerEntry,
    LinePosting,
    Payer,
    Remittance,
)
from clinic_app.models.scheduling import (
    RELEASED,
    STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentType,
)

__all__ = [
    "RELEASED",
    "ROLES",
    "STATUSES",
    "Adjustment",
    "ApiToken",
    "Appointment",
    "AppointmentEvent",
    "AppointmentType",
    "AuditLog",
    "BillingProfile",
    "Charge",
    "Claim",
    "ClaimDiagnosis",
    "ClaimEvent",
    "ClaimLine",
    "Coverage",
    "Fee",
    "FeeSchedule",
    "LedgerEntry",
    "LinePosting",
    "Location",
    "Note",
    "NoteDiagnosis",
    "NoteProcedure",
    "Patient",
    "Payer",
    "Provider",
    "Remittance",
    "Room",
    "User",
    "UserSession",
]
