"""Route constants, in one place."""

LOGIN = "/login"
BOARD = "/board"
CHART = "/chart"
BILLING = "/billing"
BILLING_SETUP = "/billing/setup"
KPI = "/kpi"
ADMIN_USERS = "/admin/users"
ADMIN_AUDIT = "/admin/audit"
PASSWORD = "/account/password"
API_TOKENS = "/api-tokens"
ADMIN_TEMPLATES = "/admin/templates"
ADMIN_MEASURES = "/admin/measures"
ADMIN_CLINICIANS = "/admin/clinicians"
WAITLIST = "/waitlist"
MESSAGES = "/messages"
TASKS = "/tasks"
INTAKE = "/intake"  # the patient's intake link (?token=...), no sign-in
PATIENT_NEW = "/patients/new"
PROFILE_ARG = "profile_patient_id"
PATIENT_PROFILE = f"/patients/[{PROFILE_ARG}]"


def patient_profile(patient_id: int) -> str:
    """The URL of a patient's profile (the id only: no name or other PHI in URLs)."""
    return f"/patients/{int(patient_id)}"
