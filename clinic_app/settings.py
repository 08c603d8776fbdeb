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

# How units of timed procedure codes follow from minutes: "cms" (the CMS 8-minute rule,
# over all timed codes of a visit) or "per_code" (substantial portion, each code alone).
# A clinic-level setting for now; per payer when payers exist (services/timed_units.py).
TIMED_UNIT_RULE = os.environ.get("CLINIC_TIMED_UNIT_RULE", "cms")


def x12_usage() -> str:
    """ISA15 of every X12 file the clinic sends (837P, 270): T (test, the default) until the
    clearinghouse has certified the clinic, then P (production): ``CLINIC_X12_USAGE``."""
    value = (os.environ.get("CLINIC_X12_USAGE") or "T").strip().upper()
    if value not in ("T", "P"):
        raise ValueError(f"CLINIC_X12_USAGE must be T (test) or P (production), not {value[:10]!r}.")
    return value
