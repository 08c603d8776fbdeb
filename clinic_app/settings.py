"""Settings read from the environment, in one place.

The embedded default needs nothing: a SQLite file in the project's ``data/`` folder
and an in-process event bus. Production sets ``DATABASE_URL`` (PostgreSQL) and
``REDIS_URL`` (the live bus across workers).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = PROJECT_ROOT / "data" / "clinic.db"


def database_url() -> str:
    """The SQLAlchemy URL of the clinic database."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"


def attachments_dir() -> Path:
    """Where uploaded files are kept (backed up with the database)."""
    return Path(os.environ.get("CLINIC_ATTACHMENTS_DIR") or PROJECT_ROOT / "data" / "attachments")


def redis_url() -> str | None:
    """The Redis URL for the cross-worker live bus, or None for in-process."""
    return os.environ.get("REDIS_URL") or None


# A signed-in session lasts a working day; an idle one ends sooner (issue: accounts).
SESSION_HOURS = int(os.environ.get("CLINIC_SESSION_HOURS", "12"))
# Automatic log-off after this many minutes without activity (HIPAA: automatic logoff).
IDLE_MINUTES = int(os.environ.get("CLINIC_IDLE_MINUTES", "15"))
# Lock an account for LOCK_MINUTES after MAX_FAILED_SIGN_INS failures in a row.
MAX_FAILED_SIGN_INS = int(os.environ.get("CLINIC_MAX_FAILED_SIGN_INS", "5"))
LOCK_MINUTES = int(os.environ.get("CLINIC_LOCK_MINUTES", "15"))


def clinic_name() -> str:
    """The clinic's name as other systems see it (the FHIR Organization)."""
    return os.environ.get("CLINIC_NAME") or "Clinic"


def export_dir() -> Path:
    """Where bulk FHIR exports are written until they are fetched and deleted."""
    return Path(os.environ.get("CLINIC_EXPORT_DIR") or PROJECT_ROOT / "data" / "exports")


def claims_outbox() -> Path | None:
    """The clearinghouse's outbox folder (``CLINIC_CLAIMS_OUTBOX``, e.g. one an SFTP job picks up):
    when set, a claim batch is sent by writing its 837P files there; None: the biller sends it."""
    value = (os.environ.get("CLINIC_CLAIMS_OUTBOX") or "").strip()
    return Path(value) if value else None

# How units of timed procedure codes follow from minutes: "cms" (the CMS 8-minute rule,
# over all timed codes of a visit) or "per_code" (substantial portion, each code alone).
# A clinic-level setting for now; per payer when payers exist (services/charting/timed_units.py).
TIMED_UNIT_RULE = os.environ.get("CLINIC_TIMED_UNIT_RULE", "cms")


def x12_usage() -> str:
    """ISA15 of every X12 file the clinic sends (837P, 270): T (test, the default) until the
    clearinghouse has certified the clinic, then P (production): ``CLINIC_X12_USAGE``."""
    value = (os.environ.get("CLINIC_X12_USAGE") or "T").strip().upper()
    if value not in ("T", "P"):
        raise ValueError(f"CLINIC_X12_USAGE must be T (test) or P (production), not {value[:10]!r}.")
    return value


def data_dir() -> Path:
    """The clinic's own files that are not in the database (the audit key and its anchors)."""
    return Path(os.environ.get("CLINIC_DATA_DIR") or PROJECT_ROOT / "data")


def _flag(name: str, default: str) -> str:
    return (os.environ.get(name) or default).strip().lower()


# -- security (README "Security") ------------------------------------------------------------
# The session cookie's Secure flag: "auto" sets it when the request came over HTTPS (or a
# trusted proxy said so with X-Forwarded-Proto), "on" always, "off" never.
SECURE_COOKIES = _flag("CLINIC_SECURE_COOKIES", "auto")
# Origins other than the app's own that may call it from a browser with credentials (CORS),
# comma-separated; none by default.
ALLOWED_ORIGINS = tuple(o.strip().rstrip("/") for o in os.environ.get("CLINIC_ALLOWED_ORIGINS", "").split(",") if o.strip())
# Request bodies: /fhir (one resource or a transaction Bundle), the sign-in form, anything else.
FHIR_MAX_BYTES = int(os.environ.get("CLINIC_FHIR_MAX_BYTES", "1000000"))
FORM_MAX_BYTES = 16_384
OTHER_MAX_BYTES = 65_536
# JSON nested deeper than this is refused (400) before anything reads it.
JSON_MAX_DEPTH = int(os.environ.get("CLINIC_JSON_MAX_DEPTH", "64"))
# FHIR requests worked on at once (the rest wait their turn), so the API cannot starve the screens.
API_CONCURRENCY = int(os.environ.get("CLINIC_API_CONCURRENCY", "2"))
# Sign-in attempts allowed per minute from one client address, and per username.
SIGN_INS_PER_CLIENT = int(os.environ.get("CLINIC_SIGN_INS_PER_CLIENT", "20"))
SIGN_INS_PER_USERNAME = int(os.environ.get("CLINIC_SIGN_INS_PER_USERNAME", "10"))
# Password hashing (argon2) runs on its own threads, at a lower CPU priority, with at most
# HASH_QUEUE sign-ins waiting; more are told to try again.
HASH_THREADS = int(os.environ.get("CLINIC_HASH_THREADS", "1"))
HASH_QUEUE = int(os.environ.get("CLINIC_HASH_QUEUE", "16"))


# -- patient portal: online payments and calendar (docs/portal-payments.md) -------------------
def payment_gateway() -> str:
    """Which payment gateway the portal uses: "local" (tests and demos; the default) or "stripe"."""
    value = _flag("CLINIC_PAYMENT_GATEWAY", "local")
    if value not in ("local", "stripe"):
        raise ValueError(f"CLINIC_PAYMENT_GATEWAY must be local or stripe, not {value[:10]!r}.")
    return value


def payment_currency() -> str:
    """The ISO 4217 currency of online payments, lower case as Stripe wants it (``CLINIC_PAYMENT_CURRENCY``)."""
    return _flag("CLINIC_PAYMENT_CURRENCY", "usd")[:3]


def portal_prepay() -> bool:
    """Whether patients may pay more than they owe (a prepayment on account): ``CLINIC_PORTAL_PREPAY``."""
    return _flag("CLINIC_PORTAL_PREPAY", "off") in ("1", "on", "yes", "true")


def portal_profile_direct() -> bool:
    """Whether a patient's change of their contact details in the portal is made at once (kept in
    the record's history and the audit log) instead of waiting for the desk: ``CLINIC_PORTAL_PROFILE_DIRECT``."""
    return _flag("CLINIC_PORTAL_PROFILE_DIRECT", "off") in ("1", "on", "yes", "true")


def stripe_keys() -> dict[str, str]:
    """Stripe's secret key (server), publishable key (the page's card element), the webhook's
    signing secret, and the API's address (only tests change it)."""
    return {
        "secret_key": os.environ.get("STRIPE_SECRET_KEY", ""),
        "publishable_key": os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
        "webhook_secret": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "api_base": os.environ.get("STRIPE_API_BASE", ""),
    }


def stripe_js_url() -> str:
    """Where the portal's Pay page loads Stripe.js from (``STRIPE_JS_URL``; tests point it at a
    local stand-in). Stripe asks that it is always loaded from js.stripe.com, never bundled."""
    return os.environ.get("STRIPE_JS_URL", "").strip() or "https://js.stripe.com/v3/"


def calendar_domain() -> str:
    """The domain of calendar invitations' UIDs (``CLINIC_CALENDAR_DOMAIN``): stable per clinic."""
    return (os.environ.get("CLINIC_CALENDAR_DOMAIN") or "clinic.invalid").strip()


def public_url() -> str:
    """The address patients and clinicians reach the app at (``CLINIC_PUBLIC_URL``), for links
    in e-mails and the iCal feed's address; empty: links are shown relative."""
    return (os.environ.get("CLINIC_PUBLIC_URL") or "").strip().rstrip("/")


def patient_base_url() -> str:
    """The address for links in patients' e-mails: ``CLINIC_PUBLIC_URL``, else the local app."""
    return public_url() or "http://localhost:3000"
