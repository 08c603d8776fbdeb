"""Who may do what: the one role x action matrix that services enforce.

Pages and state handlers ask the same matrix so that a screen never offers what the
service would refuse, but the service is where the refusal happens.
"""

from __future__ import annotations

from clinic_app.services.platform.errors import NotAllowed

RECEPTION, CLINICIAN, BILLER, MANAGER, ADMIN = "reception", "clinician", "biller", "manager", "admin"

# Minimum necessary (HIPAA): reception sees the schedule and demographics, not note
# contents; clinicians their own patients' notes; billers charges and codes;
# managers aggregates; admins users and settings.
PERMISSIONS: dict[str, frozenset[str]] = {
    "board.view": frozenset({RECEPTION, CLINICIAN}),
    "patient.search": frozenset({RECEPTION}),
    "patient.register": frozenset({RECEPTION}),
    # Only the desk sees the demographics needed to judge that two records are one person
    # (managers see aggregates, admins settings); every merge is audited and kept.
    "patient.merge": frozenset({RECEPTION}),
    "appointment.book": frozenset({RECEPTION}),
    "appointment.reschedule": frozenset({RECEPTION}),
    "provider.hours": frozenset({RECEPTION, ADMIN}),
    "appointment.check_in": frozenset({RECEPTION}),
    "appointment.no_show": frozenset({RECEPTION}),
    "appointment.cancel": frozenset({RECEPTION}),
    "appointment.start_session": frozenset({CLINICIAN}),
    "chart.view": frozenset({CLINICIAN}),
    "note.edit": frozenset({CLINICIAN}),
    "note.sign": frozenset({CLINICIAN}),
    "note.cosign": frozenset({CLINICIAN}),
    "note.addendum": frozenset({CLINICIAN}),
    "billing.view": frozenset({BILLER}),
    "billing.mark_billed": frozenset({BILLER}),
    "billing.claims": frozenset({BILLER}),
    "billing.remittance": frozenset({BILLER}),
    "billing.setup": frozenset({BILLER, ADMIN}),
    "coverage.edit": frozenset({RECEPTION, BILLER}),
    "payment.take": frozenset({RECEPTION, BILLER}),
    "ledger.adjust": frozenset({BILLER}),
    "billing.reports": frozenset({BILLER, MANAGER, ADMIN}),
    "kpi.view": frozenset({MANAGER, ADMIN}),
    "user.create": frozenset({ADMIN}),
    "user.manage": frozenset({ADMIN}),
    "audit.view": frozenset({ADMIN}),
    # The FHIR API (api/): the same minimum-necessary split as the screens.
    "fhir.directory.read": frozenset({RECEPTION, CLINICIAN, BILLER, MANAGER, ADMIN}),
    "fhir.patient.read": frozenset({RECEPTION, CLINICIAN, BILLER}),
    "fhir.patient.write": frozenset({RECEPTION}),
    "fhir.schedule.read": frozenset({RECEPTION, CLINICIAN, BILLER}),
    "fhir.condition.read": frozenset({CLINICIAN, BILLER}),
    "fhir.note.read": frozenset({CLINICIAN}),
    "fhir.claim.read": frozenset({BILLER}),
    "fhir.clinical.read": frozenset({CLINICIAN}),
    "fhir.coverage.read": frozenset({RECEPTION, BILLER}),
    "fhir.export": frozenset({ADMIN}),
    "fhir.import": frozenset({ADMIN}),
    "api_token.create": frozenset({ADMIN}),
    "measure.define": frozenset({ADMIN}),
    "template.edit": frozenset({ADMIN}),
    "clinician.setup": frozenset({ADMIN}),
    # Messages about a patient: colleagues who see PHI; patient threads go to the desk's queue
    # (or the patient's clinician). Managers and admins see aggregates and settings, not PHI.
    "message.staff": frozenset({RECEPTION, CLINICIAN, BILLER}),
    # The task inbox (services/tasks): every role that works patients' affairs.
    "task.view": frozenset({RECEPTION, CLINICIAN, BILLER, MANAGER}),
    "task.work": frozenset({RECEPTION, CLINICIAN, BILLER, MANAGER}),
    "fhir.task.read": frozenset({RECEPTION, CLINICIAN, BILLER, MANAGER}),
}

ACTION_WORDS = {
    "board.view": "view the calendar board",
    "patient.search": "search patients",
    "patient.register": "register patients",
    "patient.merge": "merge duplicate patient records",
    "appointment.book": "book appointments",
    "appointment.reschedule": "move appointments",
    "provider.hours": "set providers' working hours and time off",
    "appointment.check_in": "check patients in",
    "appointment.no_show": "mark no-shows",
    "appointment.cancel": "cancel appointments",
    "appointment.start_session": "start sessions",
    "chart.view": "open patient charts",
    "note.edit": "edit notes",
    "note.sign": "sign notes",
    "note.cosign": "co-sign notes",
    "note.addendum": "add addenda to notes",
    "billing.view": "view the billing queue",
    "billing.mark_billed": "mark visits billed",
    "billing.claims": "create and send claims",
    "billing.remittance": "post remittances",
    "billing.setup": "set up payers and fee schedules",
    "coverage.edit": "record insurance coverage",
    "payment.take": "take patient payments",
    "ledger.adjust": "adjust, write off or refund patient accounts",
    "billing.reports": "view billing reports",
    "kpi.view": "view the KPI dashboard",
    "user.create": "create users",
    "user.manage": "manage user accounts",
    "audit.view": "search the audit log",
    "fhir.directory.read": "read providers, locations and the clinic through the API",
    "fhir.patient.read": "read patient demographics through the API",
    "fhir.patient.write": "register or update patients through the API",
    "fhir.schedule.read": "read appointments and visits through the API",
    "fhir.condition.read": "read diagnoses through the API",
    "fhir.note.read": "read signed notes through the API",
    "fhir.claim.read": "read claims through the API",
    "fhir.clinical.read": "read outcome measure scores, allergies and medications through the API",
    "fhir.coverage.read": "read patients' insurance coverage through the API",
    "fhir.export": "export the whole clinic",
    "fhir.import": "import FHIR data",
    "api_token.create": "create API tokens",
    "measure.define": "define outcome measures",
    "template.edit": "edit note templates",
    "clinician.setup": "set up assistants and supervision",
    "message.staff": "read and send messages about patients",
    "task.view": "see the task inbox",
    "task.work": "assign, snooze, complete or create tasks",
    "fhir.task.read": "read tasks through the API",
}


# The patient portal's services (services/portal/) act in this role, and only after they have
# scoped the work to the signed-in patient's own visits: book, move, cancel and check in one of
# them through the same scheduling services the desk uses. No sign-in carries it (a staff
# account's role is one of the five above, ck_user_role; a patient's portal session gives no
# staff actor at all), and it may do nothing else.
PORTAL = "portal"
PORTAL_ACTIONS = frozenset({"appointment.book", "appointment.reschedule", "appointment.cancel", "appointment.check_in"})


def allowed(role: str | None, action: str) -> bool:
    """Whether ``role`` may perform ``action`` (unknown actions are refused)."""
    if role == PORTAL:
        return action in PORTAL_ACTIONS
    return role is not None and role in PERMISSIONS.get(action, frozenset())


def require(role: str | None, action: str) -> None:
    """Raise NotAllowed unless ``role`` may perform ``action``."""
    if not allowed(role, action):
        who = f"The {role} role" if role else "Signing in"
        verb = "is needed to" if not role else "may not"
        raise NotAllowed(f"{who} {verb} {ACTION_WORDS.get(action, action)}.")


# The landing page for each role after sign-in.
HOME_ROUTE = {
    RECEPTION: "/board",
    CLINICIAN: "/chart",
    BILLER: "/billing",
    MANAGER: "/kpi",
    ADMIN: "/admin/users",
}
