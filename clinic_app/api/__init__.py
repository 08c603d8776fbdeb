"""Machine interfaces mounted on the Reflex backend: the FHIR R4 REST API, signing in over
HTTP (the server sets the session cookie) and attachment downloads; payment gateways' callbacks
(portal_pay.py) and clinicians' private iCal feeds (ical.py); and the guard in front of
all of it (security headers, body limits, the upload check)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from clinic_app import db
from clinic_app.api import fhir
from clinic_app.api.guard import guard
from clinic_app.api.ical import IcalFeedApi
from clinic_app.api.portal import PortalDocuments, PortalSignIn
from clinic_app.api.portal_pay import PortalPay
from clinic_app.api.signin import SignIn


def build_api(get_engine: Callable[[], Engine] = db.engine, export_dir: Path | None = None,
              clock: Callable[[], dt.datetime] = db.utcnow) -> Starlette:
    """The Starlette app of the routes above; Reflex mounts its own app under it."""
    return Starlette(routes=[
        *fhir.FhirApi(get_engine, export_dir, clock).routes(), *SignIn(get_engine).routes(),
        *PortalSignIn(get_engine).routes(), *PortalDocuments(get_engine).routes(), *PortalPay(get_engine).routes(), *IcalFeedApi(get_engine, clock).routes(),
    ])


__all__ = ["build_api", "guard"]
