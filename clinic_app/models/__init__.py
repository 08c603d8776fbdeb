"""All tables, imported here so that SQLModel.metadata knows every one."""

from clinic_app.models.audit import AuditLog
from clinic_app.models.billing import Charge, Fee
from clinic_app.models.clinical import (
    BodyMark,
    ClinicianSupervision,
    Note,
    NoteAddendum,
    NoteCosignature,
    NoteDiagnosis,
    NoteField,
    NoteForm,
    NoteProcedure,
)
from clinic_app.models.history import (
    Attachment,
    HomeExercise,
    PatientAllergy,
    PatientMedication,
    PatientProblem,
    PlanGoal,
)
from clinic_app.models.measures import MeasureResult, OutcomeMeasure
from clinic_app.models.people import ROLES, Location, Patient, Provider, Room, User, UserSession
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
    "Appointment",
    "AppointmentEvent",
    "AppointmentType",
    "Attachment",
    "AuditLog",
    "BodyMark",
    "Charge",
    "ClinicianSupervision",
    "Fee",
    "HomeExercise",
    "Location",
    "MeasureResult",
    "Note",
    "NoteAddendum",
    "NoteCosignature",
    "NoteDiagnosis",
    "NoteField",
    "NoteForm",
    "NoteProcedure",
    "OutcomeMeasure",
    "Patient",
    "PatientAllergy",
    "PatientMedication",
    "PatientProblem",
    "PlanGoal",
    "Provider",
    "Room",
    "User",
    "UserSession",
]
